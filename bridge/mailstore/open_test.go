package mailstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
)

func TestDefaultMailboxes(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ms, err := s.Mailboxes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	seen := map[uint32]bool{}
	for _, m := range ms {
		got = append(got, m.Name+"="+m.SpecialUse)
		if m.UIDValidity == 0 || seen[m.UIDValidity] || m.UIDNext != 1 || !m.Subscribed {
			t.Errorf("mailbox %+v", m)
		}
		seen[m.UIDValidity] = true
	}
	want := []string{"INBOX=", `Archive=\Archive`, `Drafts=\Drafts`, `Junk=\Junk`, `Sent=\Sent`, `Trash=\Trash`}
	if !slices.Equal(got, want) {
		t.Fatalf("mailboxes %q, want %q", got, want)
	}
}

func TestOpenKey(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	add(t, s, "k1", Inbox, Local)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Repeat([]byte{7}, KeySize)
	if _, err := Open(path, wrong); err == nil || !strings.Contains(err.Error(), "wrong key or not a mailstore") {
		t.Fatalf("Open with a wrong key: %v", err)
	}
	if _, err := Open(path, testKey[:16]); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open with a short key: %v", err)
	}
	// A plain SQLite database is not a mailstore either.
	plain := filepath.Join(t.TempDir(), "plain.db")
	c, err := sqlite3.Open(plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(c.Exec(`CREATE TABLE t(x)`), c.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(plain, testKey); err == nil || !strings.Contains(err.Error(), "wrong key or not a mailstore") {
		t.Fatalf("Open of a plain database: %v", err)
	}
}

func TestOpenUnknownVersion(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := sqlite3.Open("file:" + path + "?vfs=adiantum&hexkey=" + s.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(c.Exec(`PRAGMA user_version = 99`), c.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, testKey); err == nil || !strings.Contains(err.Error(), "schema version 99 unknown") {
		t.Fatalf("Open of version 99: %v", err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	if _, err := s.CreateMailbox(ctx, "Projects/Umbra", Local); err != nil {
		t.Fatal(err)
	}
	m := add(t, s, "k1", "Projects/Umbra", Local, `\Seen`, "todo")
	if err := errors.Join(s.SetCursor(ctx, 42), s.SetState(ctx, "pin", []byte("v")),
		s.PutDoc(ctx, Doc{ID: "d1", Kind: "meta", Revision: 3, Key: "k1"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, Outgoing{From: "a@a.test", Recipients: []string{"b@b.test"}, MIME: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	before, err := s.Mailboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Mailboxes(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Mailboxes after Close: %v", err)
	}
	if _, _, err := s.Add(ctx, NewMessage{Key: "k", Mailbox: Inbox}, Local); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}

	s2, err := Open(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	after, err := s2.Mailboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatalf("mailboxes after reopen %+v, want %+v", after, before)
	}
	got, err := s2.ByKey(ctx, "k1")
	if err != nil || !slices.Equal(got.Flags, m.Flags) || got.UID != m.UID || !got.InternalDate.Equal(m.InternalDate) {
		t.Fatalf("message after reopen %+v (%v), want %+v", got, err, m)
	}
	mime, err := s2.Content(ctx, got.ContentID)
	if err != nil || !bytes.Equal(mime, mimeMsg("subject of k1", "body of k1")) {
		t.Fatalf("content after reopen %q, %v", mime, err)
	}
	cur, err := s2.Cursor(ctx)
	if err != nil || cur != 42 {
		t.Fatalf("cursor %d, %v", cur, err)
	}
	if v, err := s2.GetState(ctx, "pin"); err != nil || string(v) != "v" {
		t.Fatalf("state %q, %v", v, err)
	}
	if revs, err := s2.Revisions(ctx, []string{"d1"}); err != nil || revs["d1"] != 3 {
		t.Fatalf("doc revisions %v, %v", revs, err)
	}
	if o, err := s2.Outbox(ctx); err != nil || len(o) != 1 {
		t.Fatalf("outbox %+v, %v", o, err)
	}
	if p, err := s2.Pending(ctx, 0); err != nil || len(p) != 1 {
		t.Fatalf("pending %+v, %v", p, err)
	}
	// A new mailbox after reopen still gets a fresh UIDVALIDITY.
	nb, err := s2.CreateMailbox(ctx, "New", Local)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range after {
		if b.UIDValidity == nb.UIDValidity {
			t.Fatalf("UIDVALIDITY %d reused", nb.UIDValidity)
		}
	}
}

// TestNothingReadableOnDisk adds distinctive mail and checks that no file
// in the store's directory, while open and after close, holds any of it
// in the clear, nor SQLite's plain header.
func TestNothingReadableOnDisk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	secrets := []string{"Zebrafinch Quarterly", "xylophone-marmalade-7731", "Geheimordner", "kumquat@secret.test", "flagwortblau"}
	if _, err := s.CreateMailbox(ctx, "Geheimordner", Local); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		mime := []byte("From: kumquat@secret.test\r\nSubject: Zebrafinch Quarterly\r\n\r\n" +
			strings.Repeat("xylophone-marmalade-7731 ", 200) + string(rune('a'+i%26)) + "\r\n")
		if _, _, err := s.Add(ctx, NewMessage{Key: "key" + string(rune('A'+i)), Mailbox: "Geheimordner", Flags: []string{"flagwortblau"}, MIME: mime}, Local); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Enqueue(ctx, Outgoing{From: "kumquat@secret.test", Recipients: []string{"kumquat@secret.test"}, MIME: []byte("Zebrafinch Quarterly")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Search(ctx, mailbox(t, s, "Geheimordner").ID, FieldText, "Zebrafinch"); err != nil {
		t.Fatal(err)
	}
	scan := func(when string) {
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		files := 0
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(filepath.Dir(path), e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files++
			for _, needle := range append(secrets, "SQLite format 3") {
				if bytes.Contains(b, []byte(needle)) {
					t.Errorf("%s: %s holds %q in the clear", when, e.Name(), needle)
				}
			}
		}
		if files == 0 {
			t.Fatalf("%s: no files scanned", when)
		}
	}
	scan("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	scan("closed")
}

// TestCommittedAddSurvivesCrash copies the files of an open store, as a
// crash would leave them (WAL not checkpointed), and opens the copy.
func TestCommittedAddSurvivesCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	add(t, s, "survivor", Inbox, Remote)
	crashed := filepath.Join(t.TempDir(), "mail.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Open(crashed, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.ByKey(ctx, "survivor"); err != nil {
		t.Fatalf("committed message lost: %v", err)
	}
}

func TestFileModes(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	add(t, s, "k", Inbox, Local)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", p, fi.Mode().Perm())
		}
	}
}
