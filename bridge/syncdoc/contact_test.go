package syncdoc

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func sampleContact() *Contact {
	return &Contact{Address: "carol@legacy.test", LastSeen: 1_700_000_000_000,
		Autocrypt: ContactKey{At: 1_699_000_000_000, Key: []byte("autocrypt key")}, Mutual: true,
		Imported:  ContactKey{At: 1_698_000_000_000, Key: []byte("imported key")},
		Published: ContactKey{At: 1_697_000_000_000, Key: []byte("wkd key")}, WKDNext: 1_697_600_000_000}
}

func TestContactRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []*Contact{sampleContact(), {Address: "dave@old.test"}} {
		b := mustMarshal(t, c)
		got, err := ParseContact(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
		}
	}
}

// TestContactMalformed: every truncation, a trailing byte, a key length
// over the bound, an unknown state bit and a negative time are refused
// as malformed; an oversize key or a bad address cannot be marshalled.
func TestContactMalformed(t *testing.T) {
	t.Parallel()
	good := mustMarshal(t, sampleContact())
	bad := [][]byte{append(bytes.Clone(good), 0)}
	for i := range good {
		bad = append(bad, good[:i])
	}
	over := bytes.Clone(good)
	keyLen := 1 + 1 + len("carol@legacy.test") + 8 + 8
	over[keyLen], over[keyLen+1] = 0x00, 0x10 // 1 MiB
	bad = append(bad, over)
	state := bytes.Clone(good)
	state[keyLen+4+len("autocrypt key")] = 2
	bad = append(bad, state)
	neg := bytes.Clone(good)
	neg[1+1+len("carol@legacy.test")] = 0x80
	bad = append(bad, neg)
	for _, b := range bad {
		if _, err := ParseContact(b); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
			t.Errorf("ParseContact(%x): %v", b, err)
		}
	}
	for _, c := range []*Contact{
		{Address: "x"},
		{Address: "a@b.test\n"},
		{Address: "a@b.test", Imported: ContactKey{Key: make([]byte, MaxContactKey+1)}},
		{Address: "a@b.test", LastSeen: -1},
	} {
		if _, err := c.Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Marshal(%.40v): %v", c, err)
		}
	}
}

// TestMergeContact: the merge is commutative, associative and idempotent
// on random states, so devices that merge in any order converge; each
// part comes from the side that learnt it later.
func TestMergeContact(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	random := func() *Contact {
		k := func() ContactKey {
			if r.IntN(3) == 0 {
				return ContactKey{}
			}
			return ContactKey{At: int64(r.IntN(4)), Key: []byte{byte(r.IntN(3))}}
		}
		return &Contact{Address: "carol@legacy.test", LastSeen: int64(r.IntN(5)), Autocrypt: k(), Mutual: r.IntN(2) == 0,
			Imported: k(), Published: k(), WKDNext: int64(r.IntN(5))}
	}
	enc := func(c *Contact) string { return string(mustMarshal(t, c)) }
	for range 2000 {
		a, b, c := random(), random(), random()
		if enc(MergeContact(a, b)) != enc(MergeContact(b, a)) {
			t.Fatalf("not commutative:\n%+v\n%+v", a, b)
		}
		if enc(MergeContact(MergeContact(a, b), c)) != enc(MergeContact(a, MergeContact(b, c))) {
			t.Fatalf("not associative:\n%+v\n%+v\n%+v", a, b, c)
		}
		if enc(MergeContact(a, a)) != enc(a) {
			t.Fatalf("not idempotent: %+v", a)
		}
	}
	old, cur := sampleContact(), sampleContact()
	cur.Autocrypt = ContactKey{At: old.Autocrypt.At + 1, Key: []byte("newer autocrypt key")}
	cur.Mutual = false
	m := MergeContact(old, cur)
	if !bytes.Equal(m.Autocrypt.Key, cur.Autocrypt.Key) || m.Mutual || !bytes.Equal(m.Imported.Key, old.Imported.Key) {
		t.Errorf("merge: %+v", m)
	}
}

// TestContactID: one id per address whatever its case, different for
// another address or another account, and nothing of the address in it.
func TestContactID(t *testing.T) {
	t.Parallel()
	s1, _ := NewSealer(bytes.Repeat([]byte{1}, 32))
	s2, _ := NewSealer(bytes.Repeat([]byte{2}, 32))
	a, _ := s1.ContactID("Carol@Legacy.test")
	b, _ := s1.ContactID("carol@legacy.test")
	c, _ := s1.ContactID("dave@legacy.test")
	d, _ := s2.ContactID("carol@legacy.test")
	if a != b || a == c || a == d || !strings.HasPrefix(a, "p-") || len(a) != 24 || strings.Contains(strings.ToLower(a), "carol") {
		t.Errorf("ids %q %q %q %q", a, b, c, d)
	}
}

func FuzzParseContact(f *testing.F) {
	f.Add(mustMarshal(f, sampleContact()))
	f.Add(mustMarshal(f, &Contact{Address: "dave@old.test"}))
	f.Add([]byte{1, 3, 'a', '@', 'b'})
	f.Add(mustMarshal(f, &Contact{Address: "bob@b.test", Pin: ContactKey{At: 5, Key: []byte("signet")}, Verified: 6}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseContact(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if again := mustMarshal(t, c); !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, again)
		}
	})
}

// TestContactPin: a contact with a pin encodes as version 2 and round
// trips; version 2 without one is malformed (one encoding per contact);
// the later pin wins a merge with its verification, and the same pin
// keeps the later verification.
func TestContactPin(t *testing.T) {
	t.Parallel()
	c := &Contact{Address: "bob@b.test", Pin: ContactKey{At: 5, Key: []byte("signet one")}, Verified: 6}
	b := mustMarshal(t, c)
	if b[0] != formatV2 {
		t.Fatalf("version %d", b[0])
	}
	back, err := ParseContact(b)
	if err != nil {
		t.Fatal(err)
	}
	if again := mustMarshal(t, back); !bytes.Equal(again, b) {
		t.Fatal("no round trip")
	}
	bare := mustMarshal(t, &Contact{Address: "bob@b.test"})
	v2 := append([]byte{formatV2}, bare[1:]...)
	v2 = append(v2, make([]byte, 8+4+8)...)
	if _, err := ParseContact(v2); !errors.Is(err, ErrMalformed) {
		t.Errorf("version 2 without a pin: %v", err)
	}
	newer := &Contact{Address: "bob@b.test", Pin: ContactKey{At: 9, Key: []byte("signet two")}}
	if m := MergeContact(c, newer); string(m.Pin.Key) != "signet two" || m.Verified != 0 {
		t.Errorf("later pin: %+v", m)
	}
	same := &Contact{Address: "bob@b.test", Pin: c.Pin, Verified: 8}
	if m := MergeContact(c, same); m.Verified != 8 || MergeContact(same, c).Verified != 8 {
		t.Errorf("same pin: %+v", m)
	}
}
