package dmtp

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"umbra/signet"
)

func TestLookups(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	alice := chainOf("alice@b.test", 5)
	org := chainOf("b.test", 2)
	b.signets["alice@b.test"] = alice
	b.signets["b.test"] = org
	_, addr := startServer(t, b)
	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		fp   signet.Fingerprint
		want []byte
	}{
		{"alice@b.test", signet.Fingerprint{}, alice[4]},
		{"alice@b.test", fp(alice[1]), alice[1]},
		{"b.test", signet.Fingerprint{}, org[1]},
		{"b.test", fp(org[0]), org[0]},
	} {
		got, err := c.Signet(tc.name, tc.fp)
		if err != nil {
			t.Fatalf("Signet(%s, %v): %v", tc.name, tc.fp, err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("Signet(%s, %v) = %q, want %q", tc.name, tc.fp, got, tc.want)
		}
	}

	for _, tc := range []struct {
		start, stop signet.Fingerprint
		want        [][]byte
	}{
		{signet.Fingerprint{}, signet.Fingerprint{}, alice},
		{fp(alice[2]), signet.Fingerprint{}, alice[2:]},
		{fp(alice[1]), fp(alice[3]), alice[1:4]},
		{fp(alice[4]), fp(alice[4]), alice[4:]},
	} {
		got, err := c.History("alice@b.test", tc.start, tc.stop)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("History returned %d signets, want %d", len(got), len(tc.want))
		}
		for i := range got {
			if !bytes.Equal(got[i], tc.want[i]) {
				t.Errorf("History item %d = %q, want %q", i, got[i], tc.want[i])
			}
		}
	}

	latest := fp(alice[4])
	for _, tc := range []struct {
		fp      signet.Fingerprint
		current bool
	}{
		{latest, true},
		{fp(alice[0]), false},
		{signet.Fingerprint{}, false},
	} {
		cur, l, err := c.Verify("alice@b.test", tc.fp)
		if err != nil {
			t.Fatal(err)
		}
		if cur != tc.current || l != latest {
			t.Errorf("Verify(%v) = %v, %v; want %v, %v", tc.fp, cur, l, tc.current, latest)
		}
	}

	// Unknown names and fingerprints: the backend's 550, connection intact.
	var e *Error
	if _, err := c.Signet("nobody@b.test", signet.Fingerprint{}); !errors.As(err, &e) || e.Code != 550 || e.Enhanced != "5.1.1" {
		t.Errorf("Signet of an unknown address: %v, want 550 5.1.1", err)
	}
	if _, err := c.Signet("b.test", fp([]byte("nope"))); !errors.As(err, &e) || e.Code != 550 {
		t.Errorf("Signet of an unknown fingerprint: %v, want 550", err)
	}
	if _, err := c.History("nobody@b.test", signet.Fingerprint{}, signet.Fingerprint{}); !errors.As(err, &e) || e.Code != 550 {
		t.Errorf("History of an unknown address: %v, want 550", err)
	}
	if _, _, err := c.Verify("c.test", signet.Fingerprint{}); !errors.As(err, &e) || e.Code != 550 || e.Temporary() {
		t.Errorf("Verify of an unknown domain: %v, want permanent 550", err)
	}
	if err := c.Noop(); err != nil {
		t.Fatalf("connection broken after 550 replies: %v", err)
	}
}

// TestHistoryPaging: a chain longer than MaxHistory comes in pages that
// the client stitches together.
func TestHistoryPaging(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	long := chainOf("carol@b.test", 2*MaxHistory+10)
	b.signets["carol@b.test"] = long
	_, addr := startServer(t, b)

	r := dialRaw(t, addr)
	r.cmd("EHLO a.test", 250, "")
	rep := r.cmd("HIST carol@b.test", 250, "")
	if want := "HISTORY " + strconv.Itoa(MaxHistory) + " MORE"; rep.lines[0] != want {
		t.Fatalf("first page header %q, want %q", rep.lines[0], want)
	}

	c := dial(t, addr)
	if err := c.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	got, err := c.History("carol@b.test", signet.Fingerprint{}, signet.Fingerprint{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(long) {
		t.Fatalf("History returned %d signets, want %d", len(got), len(long))
	}
	for i := range got {
		if !bytes.Equal(got[i], long[i]) {
			t.Fatalf("item %d differs", i)
		}
	}
	got, err = c.History("carol@b.test", fp(long[3]), fp(long[MaxHistory+5]))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxHistory+3 || !bytes.Equal(got[0], long[3]) || !bytes.Equal(got[len(got)-1], long[MaxHistory+5]) {
		t.Fatalf("History from 3 to %d returned %d signets", MaxHistory+5, len(got))
	}
}
