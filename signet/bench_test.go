package signet

import (
	"crypto/ed25519"
	"testing"
	"time"
)

func BenchmarkOrgSign(b *testing.B) {
	o := newTestOrg(b, "example.org")
	f := OrgFields{POK: o.org.POK, SOKs: o.org.SOKs, Enc: o.org.Enc, Domain: o.org.Domain, DMTP: o.org.DMTP,
		DMAP: o.org.DMAP, TLSPin: o.org.TLSPin, NotBefore: o.org.NotBefore, NotAfter: o.org.NotAfter}
	for b.Loop() {
		if _, err := NewOrg(f, o.pok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUserIssue is the whole issuance: request with custody and
// self-signature, then certification.
func BenchmarkUserIssue(b *testing.B) {
	o := newTestOrg(b, "example.org")
	g0 := newTestUser(b, o, "alice@example.org", 0, nil, 0)
	for b.Loop() {
		newTestUser(b, o, "alice@example.org", 1, &g0, CustodyPrevious)
	}
}

// BenchmarkUserVerify is what a receiver does with a signet's bytes: parse
// and Verify (organisation self-signature, self and org signatures).
func BenchmarkUserVerify(b *testing.B) {
	o := newTestOrg(b, "example.org")
	raw := newTestUser(b, o, "alice@example.org", 0, nil, 0).signet.Bytes()
	for b.Loop() {
		u, err := ParseUser(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := u.Verify(o.org, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChain100 verifies a HIST answer of 100 signets from bytes.
func BenchmarkChain100(b *testing.B) {
	o := newTestOrg(b, "example.org")
	gens := []userGen{newTestUser(b, o, "alice@example.org", 0, nil, 0)}
	for i := 1; i < 100; i++ {
		gens = append(gens, newTestUser(b, o, "alice@example.org", i, &gens[i-1], CustodyPrevious))
	}
	raws := make([][]byte, len(gens))
	for i, g := range gens {
		raws[i] = g.signet.Bytes()
	}
	at := gens[99].signet.NotBefore.Add(time.Hour)
	for b.Loop() {
		chain := make([]*User, len(raws))
		for i, r := range raws {
			u, err := ParseUser(r)
			if err != nil {
				b.Fatal(err)
			}
			chain[i] = u
		}
		if err := VerifyHistory(chain); err != nil {
			b.Fatal(err)
		}
		if err := chain[99].Verify(o.org, at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorVerify3 is the primitive floor of BenchmarkUserVerify: the
// three Ed25519 verifications it must make (organisation self-signature,
// user self-signature, organisation signature) on messages of the same
// size, with nothing else. The ratio of the two is the format's overhead.
func BenchmarkFloorVerify3(b *testing.B) {
	k := sigKey("floor")
	msg := make([]byte, 1400)
	sig := ed25519.Sign(k, msg)
	for b.Loop() {
		for range 3 {
			if !ed25519.Verify(pub(k), msg, sig) {
				b.Fatal("verify")
			}
		}
	}
}
