package provider_test

import (
	"testing"

	"umbra/keylog"
	"umbra/testnet"
)

// TestIssueLogsSignets: every signet Issue certifies — a registration and
// a rotation — is in the log, provably, under a checkpoint that opens
// with the provider's verifier key, and the later tree extends the
// earlier one.
func TestIssueLogsSignets(t *testing.T) {
	t.Parallel()
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	nd, err := n.AddProvider("a.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nd.Stop)
	ctx := t.Context()
	log := nd.Provider.Keylog()
	vkey, err := nd.Provider.LogVerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	alice, err := nd.NewUser(ctx, "alice@a.test")
	if err != nil {
		t.Fatal(err)
	}
	_, signed1, err := log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := keylog.Open(signed1, "a.test", vkey)
	if err != nil || c1.Size != 1 {
		t.Fatalf("checkpoint after one registration: %+v %v", c1, err)
	}
	p, err := log.ProveInclusion(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := keylog.VerifyInclusion(c1, 0, alice.Signet.Bytes(), p); err != nil {
		t.Fatalf("alice's signet is not provably in the log: %v", err)
	}
	bob, err := nd.NewUser(ctx, "bob@a.test")
	if err != nil {
		t.Fatal(err)
	}
	c2, _, err := log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, _ = log.ProveInclusion(ctx, 1, c2.Size)
	if err := keylog.VerifyInclusion(c2, 1, bob.Signet.Bytes(), p); err != nil {
		t.Fatalf("bob's signet: %v", err)
	}
	cons, err := log.ProveConsistency(ctx, c1.Size, c2.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := keylog.VerifyConsistency(c1, c2, cons); err != nil {
		t.Fatalf("the log did not grow by appending: %v", err)
	}
}
