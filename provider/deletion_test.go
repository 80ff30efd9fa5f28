package provider_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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
// DMAP (his device's client) and carol@b.test to write to him.
func oneDomain(t *testing.T, clk *clock, override func(*provider.Config)) (*testnet.Node, *testnet.Device, *testnet.User) {
	t.Helper()
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	b, err := n.AddProvider("b.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(func(c *provider.Config) {
		c.Now = clk.now
		if override != nil {
			override(c)
		}
	}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	bob, err := testnet.RegisterDevice(ctx, b, "", "bob@b.test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bob.Client.Close)
	carol, err := b.NewUser(ctx, "carol@b.test")
	if err != nil {
		t.Fatal(err)
	}
	return b, bob, carol
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
	b, bob, carol := oneDomain(t, clk, nil)
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
	var needles [][]byte
	for off := 0; off+64 <= len(doc.Data); off += 4 << 10 {
		needles = append(needles, doc.Data[off:off+64])
	}
	for digest := range digests {
		needles = append(needles, digest[:])
	}
	needles = append(needles, []byte(doc.ID))
	if found := findInFiles(t, b.Dir, needles); len(found) == 0 {
		t.Fatal("the delivered message is in none of the provider's files: the scan finds nothing")
	}

	if _, err := bob.Client.Delete(ctx, doc.ID, doc.Revision); err != nil {
		t.Fatal(err)
	}
	provider.Sweep(ctx, b.Provider)
	if found := findInFiles(t, b.Dir, [][]byte{[]byte(doc.ID)}); len(found) == 0 {
		t.Fatal("the tombstone went before the horizon")
	}

	clk.advance(90*24*time.Hour + time.Minute) // past the default horizon and the delivery window
	provider.Sweep(ctx, b.Provider)
	if found := findInFiles(t, b.Dir, needles); len(found) > 0 {
		t.Fatalf("after deletion and the horizon, pieces of the message remain in %v", found)
	}
	// The device's session lapsed with the months.
	if err := bob.Client.Login(ctx, bob.User.Address, bob.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Client.Changes(ctx, changes[0].Seq, 0); !errors.Is(err, dmap.ErrResync) {
		t.Errorf("changes before the collected tombstone: %v, want %v", err, dmap.ErrResync)
	}
}

// findInFiles returns the files under dir that hold any of needles.
func findInFiles(t *testing.T, dir string, needles [][]byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(data, n) {
				found = append(found, path)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
