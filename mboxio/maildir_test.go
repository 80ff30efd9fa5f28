package mboxio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMaildir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := CreateMaildir(dir); err != nil {
		t.Fatal(err)
	}
	p1, err := DeliverMaildir(dir, []byte("Subject: new\r\n\r\nunseen\r\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	p2, err := DeliverMaildir(dir, []byte("Subject: seen\n\nread"), "SRaS")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(filepath.Dir(p1)) != "new" || filepath.Base(filepath.Dir(p2)) != "cur" || filepath.Ext(p2) == "" {
		t.Errorf("delivered to %s and %s", p1, p2)
	}
	if err := os.WriteFile(filepath.Join(dir, "cur", ".hidden"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := ReadMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("entries %v", entries)
	}
	byPath := map[string]MaildirEntry{entries[0].Path: entries[0], entries[1].Path: entries[1]}
	if e := byPath[p1]; !e.New || e.Flags != "" {
		t.Errorf("new message: %+v", e)
	}
	if e := byPath[p2]; e.New || e.Flags != "RSa" {
		t.Errorf("seen message: %+v, want flags RSa", e)
	}
	data, err := byPath[p2].ReadMessage(1000)
	if err != nil || string(data) != "Subject: seen\r\n\r\nread\r\n" {
		t.Errorf("ReadMessage = %q, %v", data, err)
	}
	if _, err := byPath[p2].ReadMessage(5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadMessage over the limit: %v", err)
	}
	if _, err := ReadMaildir(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing Maildir was read")
	}
	// A Maildir with cur only (new removed by some tool) still reads.
	if err := os.RemoveAll(filepath.Join(dir, "new")); err != nil {
		t.Fatal(err)
	}
	if entries, err := ReadMaildir(dir); err != nil || len(entries) != 1 || entries[0].Path != p2 {
		t.Errorf("Maildir without new: %+v, %v", entries, err)
	}
}

func TestParseMaildirName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, unique, flags string }{
		{"1700000000.M1P2.host:2,SR", "1700000000.M1P2.host", "RS"},
		{"1700000000.M1P2.host:2,", "1700000000.M1P2.host", ""},
		{"1700000000.M1P2.host", "1700000000.M1P2.host", ""},
		{"1700000000.M1P2.host:1,experimental", "1700000000.M1P2.host", ""},
		{"x:2,FFa,1", "x", "Fa"},
	} {
		u, f := ParseMaildirName(c.name)
		if u != c.unique || f != c.flags {
			t.Errorf("ParseMaildirName(%q) = %q, %q; want %q, %q", c.name, u, f, c.unique, c.flags)
		}
	}
}

// FuzzMaildirReader stores the input under the input name in a
// Maildir's cur and reads it back through ReadMaildir and ReadMessage.
// (Delivery is tested above; its fsync would slow fuzzing a hundredfold.)
func FuzzMaildirReader(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\nbody\r\n"), "1.M2P3.host:2,FS")
	f.Add([]byte("a\nb\r\nc"), "x:2,zzA")
	f.Add([]byte{}, ".hidden")
	dir := f.TempDir()
	if err := CreateMaildir(dir); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 200 {
			name = "x"
		}
		p := filepath.Join(dir, "cur", name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Skip(err) // a name the file system refuses
		}
		defer os.Remove(p)
		entries, err := ReadMaildir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, ".") {
			if len(entries) != 0 {
				t.Fatalf("hidden file %q listed", name)
			}
			return
		}
		if len(entries) != 1 || entries[0].Path != p || entries[0].New {
			t.Fatalf("entries %+v, want %s", entries, p)
		}
		if _, flags := ParseMaildirName(name); entries[0].Flags != flags {
			t.Fatalf("flags %q, want %q", entries[0].Flags, flags)
		}
		for _, c := range []byte(entries[0].Flags) {
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
				t.Fatalf("flag %q from %q", c, name)
			}
		}
		got, err := entries[0].ReadMessage(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		if want := toCRLF(data); string(got) != string(want) {
			t.Fatalf("read %q, want %q", got, want)
		}
	})
}
