package bridge

import (
	"bytes"
	"strings"
	"testing"
)

func TestStamp(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"Subject: hi\r\n\r\nbody\r\n", "Umbra-Security: v\r\nSubject: hi\r\n\r\nbody\r\n"},
		{"umbra-security: forged\r\n  folded\r\nSubject: hi\r\n\r\nUmbra-Security: in body\r\n",
			"Umbra-Security: v\r\nSubject: hi\r\n\r\nUmbra-Security: in body\r\n"},
		{"Subject: a\r\n\tcont\r\nUmbra-Security : x\r\n\r\n", "Umbra-Security: v\r\nSubject: a\r\n\tcont\r\n\r\n"},
		{"", "Umbra-Security: v\r\n"},
		{"no header end", "Umbra-Security: v\r\nno header end"},
	}
	for _, c := range cases {
		if got := string(stamp([]byte(c.in), "v")); got != c.want {
			t.Errorf("stamp(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := string(stamp([]byte("A: b\r\n\r\n"), "x\r\nBcc: injected")); !strings.HasPrefix(got, "Umbra-Security: x  Bcc: injected\r\n") {
		t.Errorf("a verdict with a line break was not flattened: %q", got)
	}
}

func FuzzStamp(f *testing.F) {
	f.Add([]byte("Subject: hi\r\n\r\nbody\r\n"))
	f.Add([]byte("Umbra-Security: forged\r\n folded\r\n\r\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(":\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := stamp(in, "verdict")
		first, rest, _ := bytes.Cut(out, []byte("\r\n"))
		if string(first) != "Umbra-Security: verdict" {
			t.Fatalf("first line %q", first)
		}
		// The body (from the blank line on) is kept byte for byte, and the
		// output never grows by more than the new field.
		if len(rest) > len(in) {
			t.Fatalf("grew: %d > %d", len(rest), len(in))
		}
		if i := bytes.Index(in, []byte("\n\r\n")); i >= 0 && !bytes.HasSuffix(out, in[i:]) {
			t.Fatalf("body changed")
		}
	})
}
