package signet

import (
	"strings"
	"testing"
)

func TestChainRotationAndRestart(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	g0 := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	g1 := newTestUser(t, o, "alice@example.org", 1, &g0, CustodyPrevious)
	g2 := newTestUser(t, o, "alice@example.org", 2, &g1, CustodyRecovery) // device lost: restart
	if err := VerifyHistory([]*User{g0.signet, g1.signet, g2.signet}); err != nil {
		t.Fatal(err)
	}
	if g2.signet.Custody != CustodyRecovery || g2.signet.Prev != g1.signet.Fingerprint() {
		t.Fatal("custody fields not decoded")
	}
	// Gap: g0 → g2 skips g1.
	err := VerifyHistory([]*User{g0.signet, g2.signet})
	sigError(t, err, "chain")
	if !strings.Contains(err.Error(), "gap") || !strings.Contains(err.Error(), "link 0→1") {
		t.Fatalf("gap not reported as such: %v", err)
	}
	// Reversed order.
	sigError(t, VerifyChain(g1.signet, g0.signet), "chain")
	// A first signet cannot succeed anything.
	sigError(t, VerifyChain(g0.signet, newTestUser(t, o, "alice@example.org", 1, nil, 0).signet), "chain")
	// Another address.
	b0 := newTestUser(t, o, "bob@example.org", 0, nil, 0)
	sigError(t, VerifyChain(b0.signet, g1.signet), "chain")
	sigError(t, VerifyHistory(nil), "chain")
}

// A chain link signed by a key that is not the previous signet's signing or
// recovery key (an attacker's) fails on the custody signature.
func TestChainWrongCustodyKey(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t, "example.org")
	g0 := newTestUser(t, o, "alice@example.org", 0, nil, 0)
	mallory := userGen{signet: g0.signet, signing: sigKey("mallory"), recovery: sigKey("mallory")}
	for _, kind := range []CustodyKind{CustodyPrevious, CustodyRecovery} {
		_, err := NewRequest(UserFields{
			SigningKey: pub(sigKey("x")), Enc: encKey(t, "x").PublicKey(), RecoveryKey: pub(sigKey("y")),
			Address: "alice@example.org", NotBefore: t0, NotAfter: now,
		}, sigKey("x"), &Successor{Prev: mallory.signet, Kind: kind, Key: mallory.signing})
		sigError(t, err, "custody-signature")
	}
	// Claiming the recovery kind for a signature by the previous signing key.
	g1 := newTestUser(t, o, "alice@example.org", 1, &g0, CustodyPrevious)
	b := append([]byte(nil), g1.signet.Bytes()...)
	for off := headerSize; off < len(b); off += fieldHeaderSize + (int(b[off+1])<<8 | int(b[off+2])) {
		if b[off] == userCustody {
			b[off+fieldHeaderSize] = byte(CustodyRecovery)
		}
	}
	u, err := ParseUser(b)
	if err != nil {
		t.Fatal(err)
	}
	sigError(t, VerifyChain(g0.signet, u), "custody-signature")
}
