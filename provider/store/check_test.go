package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCheckDocID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "Az09-_.~:", strings.Repeat("x", MaxDocIDLen), NewDocID()} {
		if err := CheckDocID(id); err != nil {
			t.Errorf("CheckDocID(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", "a b", "a/b", "a?b", "a%20", "é", "a\x00", "a\n", strings.Repeat("x", MaxDocIDLen+1)} {
		if err := CheckDocID(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckDocID(%q) = %v, want ErrInvalid", id, err)
		}
	}
}

func TestNewDocID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := NewDocID()
		if len(id) != 22 || seen[id] {
			t.Fatalf("NewDocID = %q (length %d, repeated %v)", id, len(id), seen[id])
		}
		seen[id] = true
	}
}

func TestCheckKindModeOwner(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"mail", "k", "folder-index", strings.Repeat("a", MaxKindLen)} {
		if err := CheckKind(k); err != nil {
			t.Errorf("CheckKind(%q): %v", k, err)
		}
	}
	for _, k := range []string{"", "Mail", "a_b", "a.b", strings.Repeat("a", MaxKindLen+1)} {
		if err := CheckKind(k); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckKind(%q) = %v, want ErrInvalid", k, err)
		}
	}
	if CheckMode(ModeParanoid) != nil || CheckMode(ModeCautious) != nil {
		t.Error("CheckMode rejects a valid mode")
	}
	for _, m := range []Mode{"", "trustful", "Paranoid"} {
		if err := CheckMode(m); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckMode(%q) = %v", m, err)
		}
	}
	for _, o := range []string{"", strings.Repeat("o", MaxOwnerLen+1), "\xff"} {
		if err := CheckOwner(o); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckOwner(%q) = %v", o, err)
		}
	}
}

func TestCheckTimeAndLimit(t *testing.T) {
	t.Parallel()
	for _, tm := range []time.Time{time.Unix(0, 1), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if err := CheckTime("t", tm); err != nil {
			t.Errorf("CheckTime(%v): %v", tm, err)
		}
	}
	for _, tm := range []time.Time{{}, time.Unix(-1, 0), time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if err := CheckTime("t", tm); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckTime(%v) = %v", tm, err)
		}
	}
	for _, c := range []struct{ n, max, want int }{{1, 10, 1}, {10, 10, 10}, {11, 10, 10}} {
		if got, err := Limit(c.n, c.max); err != nil || got != c.want {
			t.Errorf("Limit(%d, %d) = %d, %v", c.n, c.max, got, err)
		}
	}
	for _, n := range []int{0, -1} {
		if _, err := Limit(n, 10); !errors.Is(err, ErrInvalid) {
			t.Errorf("Limit(%d) = %v", n, err)
		}
	}
}

func TestTruncateError(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"short", strings.Repeat("a", MaxLastError+5), strings.Repeat("é", MaxLastError), "bad \xff utf-8"} {
		got := TruncateError(s)
		if len(got) > MaxLastError || !utf8.ValidString(got) {
			t.Errorf("TruncateError(%d bytes) = %d bytes, valid UTF-8 %v", len(s), len(got), utf8.ValidString(got))
		}
	}
	if got := TruncateError(strings.Repeat("é", MaxLastError)); len(got) != MaxLastError {
		t.Errorf("cut at a rune boundary kept %d bytes, want %d", len(got), MaxLastError)
	}
	if got := TruncateError(strings.Repeat("€", MaxLastError)); len(got) != MaxLastError/3*3 {
		t.Errorf("cut inside a rune kept %d bytes, want %d", len(got), MaxLastError/3*3)
	}
}

func TestConflictError(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("put: %w", &ConflictError{DocID: "d", Current: 7})
	var ce *ConflictError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &ce) || ce.Current != 7 {
		t.Fatalf("ConflictError does not match: %v", err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Fatal("ConflictError matches ErrNotFound")
	}
}
