package spam

import (
	"bytes"
	"errors"
	"testing"
)

func trainedModel() *Model {
	m := New()
	m.Train([]string{"subject:free", "subject:money", "url:x.example", "free"}, true)
	m.Train([]string{"subject:lunch", "subject:money", "from:alice@example.org"}, false)
	m.Train([]string{"subject:lunch", "日本"}, false)
	return m
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	m := trainedModel()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m2 := New()
	if err := m2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, err := m2.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("not deterministic:\n%q\n%q", b, b2)
	}
	toks := []string{"subject:free", "subject:lunch"}
	if m.Score(toks, DefaultParams) != m2.Score(toks, DefaultParams) {
		t.Error("scores differ after a round trip")
	}
	if len(b) > 120 {
		t.Errorf("%d bytes for 7 tokens; prefixes not shared?", len(b))
	}
}

func TestUnmarshalRejects(t *testing.T) {
	t.Parallel()
	good, err := trainedModel().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	badVersion := bytes.Clone(good)
	badVersion[len(magic)] = 2
	for name, b := range map[string][]byte{
		"empty":        nil,
		"magic":        []byte("NOTSPAM\x01"),
		"version":      badVersion,
		"truncated":    good[:len(good)-1],
		"trailing":     append(bytes.Clone(good), 0),
		"count lie":    []byte(magic + "\x01\x00\x00\xff\xff\xff\x0f"),
		"out of order": []byte(magic + "\x01\x01\x01\x02" + "\x00\x01b\x01\x00" + "\x00\x01a\x01\x00"),
		"zero counts":  []byte(magic + "\x01\x01\x01\x01" + "\x00\x01a\x00\x00"),
		"long varint":  []byte(magic + "\x01\x81\x00\x00\x00"),
		"too large":    make([]byte, MaxEncodedSize+1),
	} {
		if err := New().UnmarshalBinary(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

// FuzzUnmarshal checks that decoding never panics and that whatever
// decodes is canonical: it marshals back to the same bytes.
func FuzzUnmarshal(f *testing.F) {
	good, err := trainedModel().MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(magic + "\x01\x00\x00\x00"))
	f.Add([]byte(magic + "\x01\x01\x01\x02" + "\x00\x01a\x01\x00" + "\x00\x01b\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := New()
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("decoded %q, encodes as %q", b, out)
		}
		m.Score([]string{"a", "b"}, DefaultParams)
	})
}
