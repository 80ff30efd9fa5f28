package provider_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"umbra/bridge"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
	"umbra/provider"
	"umbra/testnet"
	"umbra/vault"
)

// A second device of bob's that was away for longer than the tombstone
// horizon syncs again: the provider answers resync (docs/spec/dmap.md
// §8.6), the bridge reads the feed from 0, drops the message whose
// content document is gone with its tombstone, and ends with exactly the
// provider's documents.
func TestResyncAfterHorizon(t *testing.T) {
	t.Parallel()
	const horizon = 24 * time.Hour
	clk := new(clock)
	w := newOneDomain(t, clk, func(c *provider.Config) { c.TombstoneHorizon = horizon })
	b, bob, carol := w.b, w.bob, w.carol
	ctx := t.Context()
	deliver := func(n int) {
		t.Helper()
		if err := b.Deliver(ctx, carol, bob.User, b, n, func(i int) []byte { return testnet.MailMIME(i, 2<<10) }); err != nil {
			t.Fatal(err)
		}
	}
	deliver(3)

	// The second device: a key of its own, enrolled with bob's signing
	// key; its bridge takes the three messages and writes their storage
	// form (content and meta documents).
	keys := newDeviceKeys(t, bob.User)
	dir := t.TempDir()
	tablet := openBridge(t, w.net, w.b, dir, keys, nil)
	if err := tablet.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tablet.Push(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tablet.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tablet.Close(); err != nil {
		t.Fatal(err)
	}

	// While the tablet is away, the laptop deletes a message's content
	// and a fourth message arrives; the tombstones pass the horizon.
	docs := liveDocs(t, bob.Client)
	kinds := map[string]int{}
	var gone string
	for id, c := range docs {
		kinds[c.Kind]++
		if c.Kind == syncdoc.KindContent {
			gone = id
		}
	}
	if kinds[syncdoc.KindContent] != 3 || kinds[syncdoc.KindMeta] != 3 || kinds["mail"] != 0 {
		t.Fatalf("after the tablet's push the provider holds %v, want 3 content and 3 meta documents", slices.Sorted(maps.Keys(docs)))
	}
	if _, err := bob.Client.Delete(ctx, gone, docs[gone].Revision); err != nil {
		t.Fatal(err)
	}
	deliver(1)
	clk.advance(horizon + time.Minute)
	provider.Sweep(ctx, b.Provider)
	if err := bob.Client.Login(ctx, bob.User.Address, bob.Key); err != nil { // the session lapsed meanwhile
		t.Fatal(err)
	}

	tablet = openBridge(t, w.net, w.b, dir, keys, nil)
	st := tablet.Store()
	cursor, err := st.Cursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Client.Changes(ctx, cursor, 0); !errors.Is(err, dmap.ErrResync) {
		t.Fatalf("changes at the tablet's cursor %d: %v, want %v", cursor, err, dmap.ErrResync)
	}
	if err := tablet.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	// Exactly the provider's documents: each live one recorded at its
	// revision, a message for each content or delivered document and no
	// other, and the cursor at the feed's end.
	docs = liveDocs(t, bob.Client)
	ids := slices.Sorted(maps.Keys(docs))
	revs, err := st.Revisions(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := map[string]bool{}
	for _, id := range ids {
		if revs[id] != docs[id].Revision {
			t.Errorf("document %s: the tablet has revision %d, the provider %d", id, revs[id], docs[id].Revision)
		}
		switch docs[id].Kind {
		case syncdoc.KindContent:
			wantKeys[id[len("c-"):]] = true
		case "mail":
			wantKeys[syncdoc.MailKey(id)] = true
		}
	}
	gotKeys := map[string]bool{}
	boxes, err := st.Mailboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range boxes {
		msgs, err := st.List(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			gotKeys[m.Key] = true
		}
	}
	if len(wantKeys) != 3 || !maps.Equal(gotKeys, wantKeys) {
		t.Errorf("the tablet's messages %v, want the provider's %v (3)", slices.Sorted(maps.Keys(gotKeys)), slices.Sorted(maps.Keys(wantKeys)))
	}
	page, err := bob.Client.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cursor, err := st.Cursor(ctx); err != nil || cursor != page.Head {
		t.Errorf("the tablet's cursor %d (%v), want the feed's head %d", cursor, err, page.Head)
	}
}

// newDeviceKeys are the keys of a new device of u's: u's own signing and
// encryption keys, a new device key and a new storage key.
func newDeviceKeys(t *testing.T, u *testnet.User) *vault.Keys {
	t.Helper()
	seed, err := u.Enc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, device, _ := ed25519.GenerateKey(nil)
	keys := &vault.Keys{Address: u.Address, Signing: u.Signing, Encryption: seed, Device: device, Storage: make([]byte, 32)}
	rand.Read(keys.Storage)
	return keys
}

// openBridge opens a bridge of keys' account at nd (in-process or a
// child) in dir over a client logged in with its device key, enrolling the
// key first if the provider does not know it; log receives its log (nil:
// none). The test closes it.
func openBridge(t *testing.T, n *testnet.Network, nd *testnet.Node, dir string, keys *vault.Keys, log io.Writer) *bridge.Bridge {
	t.Helper()
	ctx := t.Context()
	cl, err := nd.DMAPClient(nd.DMAP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	pub := keys.Device.Public().(ed25519.PublicKey)
	if err := cl.Login(ctx, keys.Address, keys.Device); err != nil {
		if _, err := cl.Enroll(ctx, keys.Address, pub, "tablet", keys.Signing, false); err != nil {
			t.Fatal(err)
		}
		if err := cl.Login(ctx, keys.Address, keys.Device); err != nil {
			t.Fatal(err)
		}
	}
	out := io.Discard
	if log != nil {
		out = log
	}
	br, err := bridge.Open(bridge.Config{Dir: dir, Keys: keys, DeviceID: dmap.DeviceID(pub), Client: cl,
		Resolver: n.Resolver(), IMAP: "127.0.0.1:0", SMTP: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

// liveDocs returns the provider's live documents of cl's account by id.
func liveDocs(t *testing.T, cl *dmap.Client) map[string]dmap.Change {
	t.Helper()
	changes, err := feed(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]dmap.Change{}
	for _, c := range changes {
		if !c.Deleted {
			docs[c.ID] = c
		}
	}
	return docs
}
