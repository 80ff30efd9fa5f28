package syncdoc

import (
	"bytes"
	"errors"
	"testing"
)

func TestSpamCodec(t *testing.T) {
	s := &Spam{Device: "dev-1", Updated: 1765000000000, Plus: []byte("plus model"), Minus: []byte{}}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSpam(b)
	if err != nil || got.Device != s.Device || got.Updated != s.Updated || !bytes.Equal(got.Plus, s.Plus) || len(got.Minus) != 0 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if again, _ := got.Marshal(); !bytes.Equal(again, b) {
		t.Error("not canonical")
	}
	for name, bad := range map[string][]byte{
		"trailing byte": append(bytes.Clone(b), 0),
		"truncated":     b[:len(b)-3],
	} {
		if _, err := ParseSpam(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseSpam(append([]byte{2}, b[1:]...)); !errors.Is(err, ErrMalformed) {
		t.Errorf("version 2 without entries: %v", err)
	}
	if _, err := ParseSpam(append([]byte{3}, b[1:]...)); !errors.Is(err, ErrVersion) {
		t.Errorf("version 3: %v", err)
	}
	if _, err := (&Spam{Device: "", Updated: 1}).Marshal(); !errors.Is(err, ErrInvalid) {
		t.Errorf("no device: %v", err)
	}
	if id := SpamID("dev-1"); len(id) != 5+24 || id != SpamID("dev-1") || id == SpamID("dev-2") {
		t.Errorf("SpamID %q", id)
	}
}

// TestSpamEntries: a spam document with entries is version 2, reads back
// as it was written and has one encoding; entries out of order, doubled,
// of an unknown judgement or a negative time are refused either way.
func TestSpamEntries(t *testing.T) {
	k1, k2 := "AAAAAAAAAAAAAAAAAAAAAA", "QUJDREVGR0hJSktMTU5PUA"
	s := &Spam{Device: "dev-1", Updated: 1, Plus: []byte{}, Minus: []byte("m"), Entries: []SpamEntry{
		{Key: k1, At: 5, Judged: JudgedNeither, Spam: -1},
		{Key: k2, At: 7, Judged: JudgedHam, Spam: -1, Ham: 1},
	}}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 2 || len(b) != 1+6+8+4+0+4+1+4+2*spamEntryLen {
		t.Fatalf("version %d, %d bytes", b[0], len(b))
	}
	got, err := ParseSpam(b)
	if err != nil || len(got.Entries) != 2 || got.Entries[0] != s.Entries[0] || got.Entries[1] != s.Entries[1] {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if again, _ := got.Marshal(); !bytes.Equal(again, b) {
		t.Error("not canonical")
	}
	at := len(b) - 2*spamEntryLen // the first entry
	for name, edit := range map[string]func([]byte){
		"unsorted":  func(b []byte) { copy(b[at:], k2) },
		"judgement": func(b []byte) { b[at+KeyLen+8] = 'x' },
		"negative":  func(b []byte) { b[at+KeyLen] = 0x80 },
		"count":     func(b []byte) { b[at-1] = 3 },
		"bad key":   func(b []byte) { b[at] = '!' },
	} {
		bad := bytes.Clone(b)
		edit(bad)
		if _, err := ParseSpam(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, e := range map[string][]SpamEntry{
		"duplicate": {s.Entries[0], s.Entries[0]},
		"judgement": {{Key: k1, Judged: 0}},
		"negative":  {{Key: k1, At: -1, Judged: JudgedSpam}},
	} {
		if _, err := (&Spam{Device: "d", Entries: e}).Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
