package provider_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"umbra/dmap"
	"umbra/provider"
	"umbra/testnet"
)

// clock is a provider's clock that a test moves forward.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

// oneDomain is b.test alone, on clk, with bob@b.test registered over
// DMAP (bob.Client is his device's) and carol@b.test to write to him.
type oneDomain struct {
	net   *testnet.Network
	b     *testnet.Node
	bob   *testnet.Device
	carol *testnet.User
}

func newOneDomain(t *testing.T, clk *clock, override func(*provider.Config)) *oneDomain {
	t.Helper()
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	w := &oneDomain{net: n}
	if w.b, err = n.AddProvider("b.test"); err != nil {
		t.Fatal(err)
	}
	if err := w.b.Start(func(c *provider.Config) {
		c.Now = clk.now
		if override != nil {
			override(c)
		}
	}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if w.bob, err = testnet.RegisterDevice(ctx, w.b, "", "bob@b.test"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.bob.Client.Close)
	if w.carol, err = w.b.NewUser(ctx, "carol@b.test"); err != nil {
		t.Fatal(err)
	}
	return w
}

// feed reads a device's whole change feed from 0.
func feed(ctx context.Context, cl *dmap.Client) ([]dmap.Change, error) {
	var all []dmap.Change
	var since int64
	for {
		page, err := cl.Changes(ctx, since, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Changes...)
		if !page.More {
			return all, nil
		}
		since = page.Next
	}
}

// TestDeletedMailLeavesNoTrace is issue 11's deletion test: bob deletes a
// delivered message; once the horizons pass (tombstones, delivery
// records) and the janitor has swept, no piece of its ciphertext, its
// document id or its delivery's message id is in any file under the
// provider's directory — database, WAL or free pages
// (docs/spec/store.md §7.1).
func TestDeletedMailLeavesNoTrace(t *testing.T) {
	t.Parallel()
	clk := new(clock)
	w := newOneDomain(t, clk, nil)
	b, bob, carol := w.b, w.bob, w.carol
	ctx := t.Context()
	if err := b.Deliver(ctx, carol, bob.User, b, 1, func(i int) []byte { return testnet.MailMIME(i, 200<<10) }); err != nil {
		t.Fatal(err)
	}
	digests, err := testnet.MailDigests(ctx, b.Provider.Store(), bob.User.Address)
	if err != nil || len(digests) != 1 {
		t.Fatalf("bob's mail: %v, %v", digests, err)
	}
	changes, err := feed(ctx, bob.Client)
	if err != nil || len(changes) != 1 {
		t.Fatalf("bob's feed: %v, %v", changes, err)
	}
	doc, err := bob.Client.Get(ctx, changes[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// 64-byte pieces every 4 KiB of the sealed message: one left
	// anywhere is found.
	var needles []string
	for off := 0; off+64 <= len(doc.Data); off += 4 << 10 {
		needles = append(needles, string(doc.Data[off:off+64]))
	}
	for digest := range digests {
		needles = append(needles, string(digest[:]))
	}
	needles = append(needles, doc.ID)
	if len(filesHolding(t, b.Dir, needles...)) == 0 {
		t.Fatal("the delivered message is in none of the provider's files: the scan finds nothing")
	}

	if _, err := bob.Client.Delete(ctx, doc.ID, doc.Revision); err != nil {
		t.Fatal(err)
	}
	provider.Sweep(ctx, b.Provider)
	if len(filesHolding(t, b.Dir, doc.ID)) == 0 {
		t.Fatal("the tombstone went before the horizon")
	}

	clk.advance(90*24*time.Hour + time.Minute) // past the default horizon and the delivery window
	provider.Sweep(ctx, b.Provider)
	scanFiles(t, b.Dir, needles...) // after the deletion and the horizon
	// The device's session lapsed with the months.
	if err := bob.Client.Login(ctx, bob.User.Address, bob.Key); err != nil {
		t.Fatal(err)
	}
	_, err = bob.Client.Changes(ctx, changes[0].Seq, 0)
	var de *dmap.Error
	if !errors.As(err, &de) || de.Status != 410 || !errors.Is(err, dmap.ErrResync) {
		t.Errorf("changes before the collected tombstone: %v, want %v", err, dmap.ErrResync)
	}
	if _, err := bob.Client.Changes(ctx, 0, 0); err != nil {
		t.Errorf("changes from 0 after the collection: %v", err)
	}
}
