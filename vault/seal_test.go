package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// sealMinimal seals k under testPassword with the weakest production
// parameters, through the public API.
func sealMinimal(t *testing.T, k *Keys) []byte {
	t.Helper()
	data, err := Seal(testPassword, k, MinimalParams())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSealUnseal(t *testing.T) {
	t.Parallel()
	for name, k := range map[string]*Keys{"full": fixedKeys(), "minimal": minimalKeys()} {
		data := sealMinimal(t, k)
		if !bytes.HasPrefix(data, []byte("UMBRAVLT\x01\x01")) {
			t.Fatalf("%s: header %x", name, data[:10])
		}
		got, err := Unseal(data, testPassword)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		assertKeysEqual(t, got, k)
	}
}

func TestSealIsFresh(t *testing.T) {
	t.Parallel()
	a, b := sealMinimal(t, fixedKeys()), sealMinimal(t, fixedKeys())
	saltAt, nonceAt := 19, 19+saltSize
	if bytes.Equal(a[saltAt:saltAt+saltSize], b[saltAt:saltAt+saltSize]) {
		t.Fatal("two seals share a salt")
	}
	if bytes.Equal(a[nonceAt:nonceAt+nonceSize], b[nonceAt:nonceAt+nonceSize]) {
		t.Fatal("two seals share a nonce")
	}
}

func TestUnsealWrongPassword(t *testing.T) {
	t.Parallel()
	data := sealMinimal(t, fixedKeys())
	for _, pw := range [][]byte{[]byte("correct horse battery stapler"), nil, testPassword[:10]} {
		_, err := Unseal(data, pw)
		if !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("password %q: got %v, want ErrWrongPassword", pw, err)
		}
		if !strings.Contains(err.Error(), "wrong password or damaged vault file") {
			t.Fatalf("message %q does not say what happened", err)
		}
	}
}

// TestTamper changes every header byte and a sample of ciphertext bytes:
// each change must be refused, either by the header checks or by GCM
// (the header is the associated data, spec §4).
func TestTamper(t *testing.T) {
	t.Parallel()
	data := sealMinimal(t, fixedKeys())
	positions := make([]int, 0, headerSize+32)
	for i := range headerSize {
		positions = append(positions, i)
	}
	for i := headerSize; i < len(data); i += 23 {
		positions = append(positions, i)
	}
	positions = append(positions, len(data)-1) // the last byte of the tag
	for _, i := range positions {
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		_, err := Unseal(bad, testPassword)
		var fe *FormatError
		switch {
		case errors.Is(err, ErrWrongPassword):
			if i < 10 {
				t.Errorf("byte %d: magic, version and KDF id must be checked before the KDF, got %v", i, err)
			}
		case errors.As(err, &fe):
		default:
			t.Errorf("byte %d changed: got %v, want ErrWrongPassword or *FormatError", i, err)
		}
	}
}

func TestUnsealMalformed(t *testing.T) {
	t.Parallel()
	data := sealMinimal(t, minimalKeys())
	set := func(i int, v byte) []byte { b := bytes.Clone(data); b[i] = v; return b }
	cases := []struct {
		name, field string
		b           []byte
	}{
		{"empty", "header", nil},
		{"header only, truncated", "header", data[:headerSize-1]},
		{"no ciphertext", "header.length", data[:headerSize]},
		{"truncated by one byte", "header.length", data[:len(data)-1]},
		{"trailing byte", "header.length", append(bytes.Clone(data), 0)},
		{"oversize", "vault", append(bytes.Clone(data), make([]byte, MaxFileSize)...)},
		{"bad magic", "header.magic", set(0, 'u')},
		{"version 0", "header.version", set(8, 0)},
		{"version 2", "header.version", set(8, 2)},
		{"unknown KDF", "header.kdf", set(9, 2)},
		{"tag-less ciphertext", "header.length", func() []byte {
			b := bytes.Clone(data[:headerSize+15])
			binary.BigEndian.PutUint32(b[headerSize-4:], 15)
			return b
		}()},
	}
	for _, c := range cases {
		_, err := Unseal(c.b, testPassword)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want *FormatError on %s", c.name, err, c.field)
		}
	}
}

// withParams returns data with its header parameters replaced (and so no
// longer authentic).
func withParams(data []byte, p Params) []byte {
	b := bytes.Clone(data)
	binary.BigEndian.PutUint32(b[10:], p.Time)
	binary.BigEndian.PutUint32(b[14:], p.MemoryKiB)
	b[18] = p.Threads
	return b
}

// TestHostileParams: parameters out of bounds are refused by the header
// check, which runs before Argon2id (a *FormatError on params.* cannot come
// from anywhere else). Were Argon2id to run with 4 TiB, the test would not
// finish.
func TestHostileParams(t *testing.T) {
	t.Parallel()
	data := sealMinimal(t, minimalKeys())
	cases := []struct {
		p     Params
		field string
	}{
		{Params{1, 1<<20 + 1, 1}, "params.memory"},
		{Params{1, 0xffffffff, 1}, "params.memory"},
		{Params{1, 8<<10 - 1, 1}, "params.memory"},
		{Params{1, 0, 1}, "params.memory"},
		{Params{11, 8 << 10, 1}, "params.time"},
		{Params{0xffffffff, 1 << 20, 16}, "params.time"},
		{Params{0, 8 << 10, 1}, "params.time"},
		{Params{1, 8 << 10, 0}, "params.threads"},
		{Params{1, 8 << 10, 17}, "params.threads"},
		{Params{1, 8 << 10, 255}, "params.threads"},
	}
	for _, c := range cases {
		_, err := Unseal(withParams(data, c.p), testPassword)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("params %+v: got %v, want *FormatError on %s", c.p, err, c.field)
		}
		// Writers are held to the same bounds.
		if _, err := Seal(testPassword, minimalKeys(), c.p); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("Seal with params %+v: got %v, want *FormatError on %s", c.p, err, c.field)
		}
	}
	// In bounds but not the sealed ones: Argon2id runs and GCM refuses.
	if _, err := Unseal(withParams(data, Params{2, 8 << 10, 1}), testPassword); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("changed time: got %v, want ErrWrongPassword", err)
	}
}

func TestParamsValidate(t *testing.T) {
	t.Parallel()
	for _, p := range []Params{DefaultParams(), MinimalParams(), {10, 1 << 20, 16}} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	err := Params{Time: 11, MemoryKiB: 8 << 10, Threads: 1}.Validate()
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Field != "params.time" || !strings.HasPrefix(err.Error(), "vault: params.time:") {
		t.Errorf("11 passes: got %v", err)
	}
	// Argon2 needs 8 KiB a lane; only reachable below the production
	// minimum, so check it with the test bounds.
	if err := (Params{1, 8, 2}).check(tinyBounds); err == nil {
		t.Error("8 KiB for 2 lanes accepted")
	}
	if err := (Params{1, 16, 2}).check(tinyBounds); err != nil {
		t.Errorf("16 KiB for 2 lanes: %v", err)
	}
}

func TestSealRejects(t *testing.T) {
	t.Parallel()
	if _, err := Seal(nil, minimalKeys(), MinimalParams()); !errors.Is(err, ErrEmptyPassword) {
		t.Errorf("empty password: got %v", err)
	}
	var fe *FormatError
	if _, err := Seal(testPassword, nil, MinimalParams()); !errors.As(err, &fe) {
		t.Errorf("nil keys: got %v", err)
	}
	if _, err := Seal(testPassword, minimalKeys(), Params{}); !errors.As(err, &fe) {
		t.Errorf("zero params: got %v", err)
	}
	// Failing randomness is reported, not ignored.
	if _, err := seal(bytes.NewReader(make([]byte, saltSize)), productionBounds, testPassword, minimalKeys(), MinimalParams()); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("short randomness: got %v", err)
	}
}

// TestUnsealMalformedContent: a vault whose authenticated plaintext breaks
// spec §5 (as only a faulty writer could make) is refused after GCM.
func TestUnsealMalformedContent(t *testing.T) {
	t.Parallel()
	pt := append(field(tagAddress, []byte("a@a.test")), field(tagSigning, seedOf(1))...) // no encryption or device key
	h := &header{params: MinimalParams(), ctLen: uint32(len(pt) + tagSize)}
	copy(h.salt[:], seedOf(9))
	aead, err := newAEAD(testPassword, h)
	if err != nil {
		t.Fatal(err)
	}
	hdr := h.appendTo(nil)
	data := aead.Seal(hdr, h.nonce[:], pt, hdr)
	_, err = Unseal(data, testPassword)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Field != "keys.encryption" || !strings.Contains(err.Error(), "authenticated content is malformed") {
		t.Fatalf("got %v, want a malformed-content error on keys.encryption", err)
	}
}
