package syncdoc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealRoundTripAndSizes(t *testing.T) {
	t.Parallel()
	s := testSealer(t, 1)
	for _, n := range []int{0, 1, 100, 254, 255, 256, 1000, 4095, 4096, 65536, 500000} {
		pt := bytes.Repeat([]byte{0x80, 0, 7}, n/3+1)[:n] // ends in 0x80 or zero bytes at some sizes
		sealed, err := s.Seal("c-x", KindContent, 1, pt)
		if err != nil {
			t.Fatal(err)
		}
		if want := padSize(n) + sealOverhead; len(sealed) != want {
			t.Errorf("%d bytes sealed to %d, want %d", n, len(sealed), want)
		}
		if p := padSize(n); p < n+1 || p > (n+1)*112/100+minPadded {
			t.Errorf("padSize(%d) = %d is outside Padmé's bound", n, p)
		}
		got, err := s.Open("c-x", KindContent, 1, sealed)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%d bytes: open: %v", n, err)
		}
		again, _ := s.Seal("c-x", KindContent, 1, pt)
		if bytes.Equal(again, sealed) {
			t.Fatalf("two seals of %d bytes are equal: the nonce repeats", n)
		}
	}
}

func TestPadSizeMonotoneAndCapped(t *testing.T) {
	t.Parallel()
	prev := 0
	for n := 0; n < 1<<16; n++ {
		p := padSize(n)
		if p < prev || p <= n {
			t.Fatalf("padSize(%d) = %d after %d", n, p, prev)
		}
		prev = p
	}
	if p := padSize(MaxPlaintext); p != maxPadded || p+sealOverhead != MaxSealed {
		t.Fatalf("padSize(MaxPlaintext) = %d, want %d", p, maxPadded)
	}
	if p := padSize(MaxMIME + contentHeader + MaxSecurity + 4); p > maxPadded {
		t.Fatalf("the largest content pads to %d, above %d", p, maxPadded)
	}
}

// TestTamperEveryByte flips each bit position of each byte of a sealed
// document, and also truncates and extends it: nothing may open.
func TestTamperEveryByte(t *testing.T) {
	t.Parallel()
	s := testSealer(t, 2)
	pt := mustMarshal(t, sampleMeta())
	sealed, err := s.Seal(MetaID(testKey), KindMeta, 4, pt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(sealed)
			bad[i] ^= mask
			_, err := s.Open(MetaID(testKey), KindMeta, 4, bad)
			want := ErrAuth
			if i == 0 {
				want = ErrVersion
			}
			if !errors.Is(err, want) {
				t.Fatalf("byte %d ^ %#x: %v, want %v", i, mask, err, want)
			}
		}
	}
	for n := range len(sealed) {
		if _, err := s.Open(MetaID(testKey), KindMeta, 4, sealed[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: opened", n)
		}
	}
	if _, err := s.Open(MetaID(testKey), KindMeta, 4, append(bytes.Clone(sealed), 0)); !errors.Is(err, ErrAuth) {
		t.Fatalf("one byte appended: %v", err)
	}
}

func TestOpenWrongContext(t *testing.T) {
	t.Parallel()
	s := testSealer(t, 3)
	id := ContentID(testKey)
	sealed, err := s.Seal(id, KindContent, 2, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		s        *Sealer
		id, kind string
		rev      int64
	}{
		{"id", s, MetaID(testKey), KindContent, 2},
		{"id prefix", s, id[:len(id)-1], KindContent, 2},
		{"kind", s, id, KindMeta, 2},
		{"revision", s, id, KindContent, 3},
		{"older revision", s, id, KindContent, 1},
		{"storage key", testSealer(t, 4), id, KindContent, 2},
	}
	for _, c := range cases {
		if _, err := c.s.Open(c.id, c.kind, c.rev, sealed); !errors.Is(err, ErrAuth) {
			t.Errorf("wrong %s: %v, want ErrAuth", c.name, err)
		}
	}
	if got, err := s.Open(id, KindContent, 2, sealed); err != nil || string(got) != "hello" {
		t.Fatalf("right context: %q, %v", got, err)
	}
}

func TestSealerRejects(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n)); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewSealer(%d bytes): %v", n, err)
		}
	}
	s := testSealer(t, 5)
	for _, c := range []struct {
		id, kind string
		rev      int64
	}{
		{"", KindMeta, 1},
		{"a/b", KindMeta, 1},
		{strings.Repeat("a", 129), KindMeta, 1},
		{"m-x", "", 1},
		{"m-x", "Meta", 1},
		{"m-x", KindMeta, 0},
		{"m-x", KindMeta, -1},
	} {
		if _, err := s.Seal(c.id, c.kind, c.rev, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Seal(%q, %q, %d): %v", c.id, c.kind, c.rev, err)
		}
		if _, err := s.Open(c.id, c.kind, c.rev, make([]byte, minSealed)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q, %q, %d): %v", c.id, c.kind, c.rev, err)
		}
	}
	if _, err := s.Seal("c-x", KindContent, 1, make([]byte, MaxPlaintext+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversize plaintext: %v", err)
	}
	if _, err := s.Open("c-x", KindContent, 1, make([]byte, MaxSealed+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversize sealed: %v", err)
	}
	if _, err := s.Open("c-x", KindContent, 1, make([]byte, minSealed-1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("short sealed: %v", err)
	}
}

// TestOpenRejectsBadPadding seals, with the document's real key, padded
// plaintexts that break the padding rule: authentic, yet not canonical.
func TestOpenRejectsBadPadding(t *testing.T) {
	t.Parallel()
	s := testSealer(t, 6)
	g, err := s.aead("c-x")
	if err != nil {
		t.Fatal(err)
	}
	good := append([]byte("abc\x80"), make([]byte, minPadded-4)...)
	for name, padded := range map[string][]byte{
		"no marker":      make([]byte, minPadded),
		"wrong marker":   append([]byte("abc\x81"), make([]byte, minPadded-4)...),
		"bucket too big": append([]byte("abc\x80"), make([]byte, 2*minPadded)...),
		"below minimum":  []byte("abc\x80"),
		"good":           good,
	} {
		nonce := make([]byte, nonceLen)
		sealed := g.Seal(append([]byte{sealVersion}, nonce...), nonce, padded, additionalData("c-x", KindContent, 1))
		got, err := s.Open("c-x", KindContent, 1, sealed)
		switch {
		case name == "good":
			if err != nil || string(got) != "abc" {
				t.Errorf("good padding: %q, %v", got, err)
			}
		case !errors.Is(err, ErrMalformed):
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}
