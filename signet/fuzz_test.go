package signet

import (
	"bytes"
	"testing"
)

// seeds adds the test vectors' signets, valid and cut short, to f.
func seeds(f *testing.F) [][]byte {
	o := newTestOrg(f, "example.org")
	g0 := newTestUser(f, o, "alice@example.org", 0, nil, 0)
	g1 := newTestUser(f, o, "alice@example.org", 1, &g0, CustodyPrevious)
	return [][]byte{o.org.Bytes(), g0.signet.Bytes(), g1.signet.Bytes(), requestOfBytes(g1.signet.Bytes())}
}

func requestOfBytes(b []byte) []byte { return withoutField(b, userOrgSig) }

// FuzzParse: any input either fails with an error or parses to a signet
// whose bytes are exactly the input (canonical: no second encoding).
func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	f.Add([]byte{0x06, 0xf0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		var got []byte
		switch s := v.(type) {
		case *Org:
			got = s.Bytes()
			_ = s.Verify(now)
		case *User:
			got = s.Bytes()
		}
		if !bytes.Equal(got, b) {
			t.Fatal("parsed signet's bytes differ from the input")
		}
	})
}

// FuzzVerifyChain: two arbitrary user signets, chained or not, never panic,
// and a successful VerifyChain really means linked fingerprints.
func FuzzVerifyChain(f *testing.F) {
	s := seeds(f)
	f.Add(s[1], s[2])
	f.Add(s[2], s[1])
	f.Add(s[1], s[3])
	f.Fuzz(func(t *testing.T, a, b []byte) {
		prev, err := parseUser(a, true)
		if err != nil {
			return
		}
		next, err := parseUser(b, true)
		if err != nil {
			return
		}
		if VerifyChain(prev, next) == nil && next.Prev != prev.Fingerprint() {
			t.Fatal("chain accepted without a fingerprint link")
		}
	})
}
