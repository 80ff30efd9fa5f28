package syncdoc

import (
	"bytes"
	"errors"
	"testing"
)

func sampleKeyring() *Keyring {
	return &Keyring{Signing: bytes.Repeat([]byte{2}, seedLen), Encryption: bytes.Repeat([]byte{3}, seedLen)}
}

func TestKeyringRoundTrip(t *testing.T) {
	t.Parallel()
	b := mustMarshal(t, sampleKeyring())
	if len(b) != 65 || b[0] != formatV1 {
		t.Fatalf("encoding: %x", b)
	}
	k, err := ParseKeyring(b)
	if err != nil {
		t.Fatal(err)
	}
	if again := mustMarshal(t, k); !bytes.Equal(again, b) {
		t.Fatalf("round trip: %x", again)
	}
	for name, bad := range map[string][]byte{
		"empty":     {},
		"short":     b[:64],
		"trailing":  append(bytes.Clone(b), 0),
		"version 2": append([]byte{2}, b[1:]...),
	} {
		if _, err := ParseKeyring(bad); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := (&Keyring{Signing: make([]byte, 31), Encryption: make([]byte, 32)}).Marshal(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a short seed marshals: %v", err)
	}
}

func FuzzParseKeyring(f *testing.F) {
	f.Add(mustMarshal(f, sampleKeyring()))
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKeyring(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if again := mustMarshal(t, k); !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, again)
		}
	})
}
