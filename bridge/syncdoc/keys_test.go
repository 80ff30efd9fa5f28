package syncdoc

import (
	"errors"
	"strings"
	"testing"

	"umbra/dmap"
)

func TestNewKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		k := NewKey()
		if err := CheckKey(k); err != nil {
			t.Fatal(err)
		}
		if seen[k] {
			t.Fatalf("NewKey repeated %q", k)
		}
		seen[k] = true
		for _, id := range []string{ContentID(k), MetaID(k)} {
			if err := dmap.CheckDocID(id); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
	}
	if err := dmap.CheckDocID(FoldersID); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{KindContent, KindMeta, KindFolders} {
		if err := dmap.CheckKind(k); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMailKey(t *testing.T) {
	t.Parallel()
	a, b := MailKey("mail-1"), MailKey("mail-2")
	if a != MailKey("mail-1") || a == b {
		t.Fatalf("MailKey not deterministic or not distinct: %q %q", a, b)
	}
	if err := CheckKey(a); err != nil {
		t.Fatal(err)
	}
}

func TestCheckKeyRejects(t *testing.T) {
	t.Parallel()
	good := MailKey("x")
	for _, k := range []string{
		"",
		good[:21],
		good + "A",
		strings.Repeat("A", 21) + "B", // unused low bits not zero
		strings.Repeat("A", 21) + "+", // standard, not URL alphabet
		strings.Repeat("A", 20) + "==",
		strings.Repeat("A", 21) + "\x00",
	} {
		if err := CheckKey(k); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckKey(%q) = %v, want ErrInvalid", k, err)
		}
	}
}
