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
	if _, err := ParseSpam(append([]byte{2}, b[1:]...)); err == nil {
		t.Error("version 2 accepted")
	}
	if _, err := (&Spam{Device: "", Updated: 1}).Marshal(); !errors.Is(err, ErrInvalid) {
		t.Errorf("no device: %v", err)
	}
	if id := SpamID("dev-1"); len(id) != 5+24 || id != SpamID("dev-1") || id == SpamID("dev-2") {
		t.Errorf("SpamID %q", id)
	}
}
