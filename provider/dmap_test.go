package provider_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"umbra/dmap"
	"umbra/dmime"
	"umbra/provider"
	"umbra/signet"
	"umbra/testnet"
)

// device is a user's device talking DMAP to its provider: its keys and a
// logged-in client.
type device struct {
	user   *testnet.User
	key    ed25519.PrivateKey // the device key
	client *dmap.Client
}

// register creates address at nd the way a device does over DMAP
// (testnet.RegisterDevice), and checks that its invitation works once.
func register(t *testing.T, nd *testnet.Node, address string) *device {
	t.Helper()
	ctx := context.Background()
	d, err := testnet.RegisterDevice(ctx, nd, "", address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Client.Close)
	if _, _, err := d.Client.Register(ctx, dmap.RegisterParams{Address: address, Invite: d.Invite, Mode: dmap.ModeParanoid,
		Request: d.Request, DeviceKey: d.Key.Public().(ed25519.PublicKey), DeviceName: "again"}); !errors.Is(err, dmap.ErrInvite) {
		t.Fatalf("second registration with one code: %v", err)
	}
	return &device{user: d.User, key: d.Key, client: d.Client}
}

// Over DMAP: alice and bob register from their devices; alice fetches
// bob's signet through her own provider, seals, sends; bob's long-poll
// wakes and he opens the message; his flags document syncs as opaque
// bytes. Neither provider's files hold the subject, a body line, the flag
// document's plaintext or any private key.
func TestDMAPEndToEnd(t *testing.T) {
	t.Parallel()
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	for _, d := range []string{"a.test", "b.test"} {
		nd, err := n.AddProvider(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(fastRetries); err != nil {
			t.Fatal(err)
		}
	}
	a, b := n.Node("a.test"), n.Node("b.test")
	alice, bob := register(t, a, "alice@a.test"), register(t, b, "bob@b.test")
	ctx := context.Background()

	// Signet look-up through alice's own provider (the proxy).
	raw, err := alice.client.Signet(ctx, bob.user.Address, signet.Fingerprint{})
	if err != nil || !bytes.Equal(raw, bob.user.Signet.Bytes()) {
		t.Fatalf("signet of bob through a.test: %v", err)
	}
	mime := mimeMessage(secretSubject, secretLine)
	msg, err := testnet.Seal(alice.user, a, bob.user, b, mime)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan dmap.Page, 1)
	go func() {
		p, err := bob.client.Changes(ctx, 0, 30*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- p
	}()
	if _, err := alice.client.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	page := <-done
	if len(page.Changes) == 0 {
		t.Fatal("bob's long-poll returned no change")
	}
	doc, err := bob.client.Get(ctx, page.Changes[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	aOrg, _ := a.OrgSignet()
	var out bytes.Buffer
	if _, err := dmime.Open(bytes.NewReader(doc.Data), dmime.RoleRecipient, bob.user.Enc, dmime.OpenOptions{
		MIME: &out, Recipient: bob.user.Address, OriginKeys: []ed25519.PublicKey{aOrg.SOKs[0].Key},
		AuthorKey: func(string, signet.Fingerprint, *dmime.Carried) (ed25519.PublicKey, error) {
			return alice.user.Signet.SigningKey, nil
		},
	}); err != nil || !bytes.Equal(out.Bytes(), mime) {
		t.Fatalf("bob opens: %v", err)
	}
	// A flag document: opaque to the provider (a bridge seals it; here it
	// stands for ciphertext whose plaintext must not appear on disk).
	flags := []byte("sealed:" + string(bytes.Repeat([]byte{0xA5}, 64)))
	if _, err := bob.client.Put(ctx, "flags-1", "meta", 0, flags); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.client.Put(ctx, "flags-1", "meta", 0, flags); !errors.Is(err, dmap.ErrConflict) {
		t.Fatalf("put over an existing document: %v", err)
	}
	// Alice's token cannot read bob's document: her namespace has no such id.
	if _, err := alice.client.Get(ctx, page.Changes[0].ID); !errors.Is(err, dmap.ErrNotFound) {
		t.Fatalf("alice reads bob's document: %v", err)
	}
	// Sending as someone else is refused: bob submits alice's message.
	if _, err := bob.client.Send(ctx, msg); !errors.Is(err, dmap.ErrNotAuthor) && !errors.Is(err, dmap.ErrBadMessage) {
		t.Fatalf("bob sends alice's message: %v", err)
	}
	// Revoking the device ends its session at once.
	devs, err := bob.client.Devices(ctx)
	if err != nil || len(devs) != 1 {
		t.Fatalf("devices: %v %v", devs, err)
	}
	if err := bob.client.RevokeDevice(ctx, devs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.client.Changes(ctx, 0, 0); !errors.Is(err, dmap.ErrUnauthorized) {
		t.Fatalf("revoked device still served: %v", err)
	}

	a.Stop()
	b.Stop()
	secrets := []string{secretSubject, secretLine}
	for _, u := range []*testnet.User{alice.user, bob.user} {
		seed, _ := u.Enc.Bytes()
		secrets = append(secrets, string(u.Signing.Seed()), string(u.Recovery.Seed()), string(seed))
	}
	for _, nd := range []*testnet.Node{a, b} {
		scanDir(t, filepath.Join(nd.Dir, provider.DataDir), secrets)
	}
}
