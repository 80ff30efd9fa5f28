package provider_test

import (
	"errors"
	"testing"

	"umbra/dmtp"
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

	// The organisation signet names the key, and DMTP LOG serves the log
	// to anyone (docs/spec/dmtp.md §5.9).
	if org := nd.Provider.Org().Signet; org.LogKey != vkey {
		t.Fatalf("the organisation signet names log key %q, the provider signs with %q", org.LogKey, vkey)
	}
	cl, err := dmtp.Dial(ctx, nd.DMTP, dmtp.PinnedConfig(nd.Record.TLSPin, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Hello("b.test"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cl.Extension("LOG"); !ok {
		t.Fatal("EHLO does not list LOG")
	}
	signed, err := cl.Log("CHECKPOINT")
	if err != nil {
		t.Fatal(err)
	}
	c3, err := keylog.Open(signed, "a.test", vkey)
	if err != nil || c3 != c2 {
		t.Fatalf("LOG CHECKPOINT: %+v, %v; want %+v", c3, err, c2)
	}
	fp := bob.Signet.Fingerprint()
	idx, err := cl.Log(keylog.Query{Op: keylog.OpFind, Hash: fp}.String())
	if err != nil {
		t.Fatal(err)
	}
	if i, err := keylog.DecodeIndex(idx); err != nil || i != 1 {
		t.Fatalf("LOG FIND bob: %d, %v", i, err)
	}
	raw, err := cl.Log("INCLUSION 1 2")
	if err != nil {
		t.Fatal(err)
	}
	if proof, err := keylog.DecodeProof(raw); err != nil || keylog.VerifyInclusion(c3, 1, bob.Signet.Bytes(), proof) != nil {
		t.Fatalf("LOG INCLUSION: %v", err)
	}
	var de *dmtp.Error
	if _, err := cl.Log("INCLUSION 2 2"); !errors.As(err, &de) || de.Code != 550 {
		t.Fatalf("a record the log does not have: %v", err)
	}
	if _, err := cl.Log("INCLUSION x"); !errors.As(err, &de) || de.Code != 501 {
		t.Fatalf("a malformed query: %v", err)
	}
}
