package provider_test

import (
	"crypto/ed25519"
	"net/http"
	"testing"

	"umbra/provider"
	"umbra/testnet"
)

// TestSharedLoginLimit: two nodes of b.test on one PostgreSQL database
// count failed logins together. Bad logins with one device key,
// alternating between the nodes, are refused with 429 from the 11th on
// (the per-key burst is 10, dmap.Options.KeyLimit); with each node's
// limits in its own memory the guesser would get 10 per node.
func TestSharedLoginLimit(t *testing.T) {
	t.Parallel()
	url := pg.NewDatabase(t)
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	b, err := n.AddProvider("b.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(func(c *provider.Config) { c.DB = url }); err != nil {
		t.Fatal(err)
	}
	b2, err := n.AddNode("b.test", "node2", map[string]string{"db": url})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Start(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b2.Stop)
	bob := register(t, b, "bob@b.test")
	client := clientFrom(t, &world{b: b}, "127.0.0.3")
	_, priv, _ := ed25519.GenerateKey(nil)
	var codes []int
	for i := range 14 {
		codes = append(codes, badLogin(t, client, []*testnet.Node{b, b2}[i%2].DMAP, bob.user.Address, priv))
	}
	for i, c := range codes {
		if limited := c == http.StatusTooManyRequests; limited != (i >= 10) {
			t.Fatalf("bad logins alternating between the nodes answered %v: want 429 from the 11th on", codes)
		}
	}
	// Bob's own device is not the guesser's key: it logs in on either node.
	for _, nd := range []*testnet.Node{b, b2} {
		cl, err := nd.DMAPClient(nd.DMAP)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.Login(t.Context(), bob.user.Address, bob.key); err != nil {
			t.Fatalf("bob's device on %s: %v", nd.DMAP, err)
		}
	}
}
