package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"umbra/provider"
	"umbra/provider/store"
	"umbra/provider/store/postgres"
	"umbra/testnet"
)

// Sizes of TestMigrateThenTwoNodes: the embedded provider the issue
// describes.
const (
	migrateAccounts    = 100
	migratePerAccount  = 100 // 10,000 messages
	migrateMessageSize = 1024
)

// TestMigrateThenTwoNodes moves an embedded provider with 100 accounts
// and 10,000 messages to PostgreSQL with `umbra server migrate-store`,
// checks every document of every account against the embedded store,
// and then serves the domain from two nodes on the database: the one
// account with a device reads its mail over DMAP from each node.
//
// The mail is written through the store API, not over the network: the
// subject is the move, and 10,000 DMTP deliveries would take minutes
// under the race detector.
func TestMigrateThenTwoNodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	begin := time.Now()
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	b, err := n.AddProvider("b.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(nil); err != nil {
		t.Fatal(err)
	}
	reader, err := testnet.RegisterDevice(ctx, b, "", "reader@b.test")
	if err != nil {
		t.Fatal(err)
	}
	reader.Client.Close()
	b.Stop()

	// The other 99 accounts, and 100 messages for each, in the embedded
	// store.
	src, err := provider.OpenStore(b.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	addrs := []string{reader.User.Address}
	for i := 1; i < migrateAccounts; i++ {
		a := fmt.Sprintf("user%02d@b.test", i)
		code := sha256.Sum256([]byte(a))
		if err := src.Accounts().AddInvited(ctx, a, code); err != nil {
			t.Fatal(err)
		}
		if err := src.Accounts().Activate(ctx, a, code, store.ModeParanoid); err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, a)
	}
	err = testnet.Parallel(ctx, 32, migrateAccounts*migratePerAccount, func(i int) error {
		data := make([]byte, migrateMessageSize)
		rand.Read(data)
		_, _, err := src.Mailbox().Deliver(ctx, addrs[i%migrateAccounts], sha256.Sum256(data), bytes.NewReader(data), int64(len(data)), time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Logf("%d messages in the embedded store after %v", migrateAccounts*migratePerAccount, time.Since(begin).Round(time.Millisecond))
	url := pg.NewDatabase(t)
	code, out, errOut := umbra(t, "server", "migrate-store", "--from", b.Dir, "--to", url)
	want := fmt.Sprintf("%d accounts, %d documents", migrateAccounts, migrateAccounts*migratePerAccount)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("server migrate-store: exit %d, want %q: %s%s", code, want, out, errOut)
	}

	t.Logf("moved and verified by migrate-store after %v", time.Since(begin).Round(time.Millisecond))
	// Our own check, beside migrate-store's: every account's change
	// feed and every document, byte for byte.
	dst, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	err = testnet.Parallel(ctx, 8, len(addrs), func(i int) error { return sameMailbox(ctx, src, dst, addrs[i]) })
	if err != nil {
		t.Fatal(err)
	}

	t.Logf("compared after %v", time.Since(begin).Round(time.Millisecond))
	// Two nodes on the database; the reader's device reads its mail from
	// each.
	for i := range 2 {
		nd, err := n.AddNode("b.test", fmt.Sprintf("node%d", i+1), map[string]string{"db": url})
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nd.Stop)
		cl, err := nd.DMAPClient(nd.DMAP)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.Login(ctx, reader.User.Address, reader.Key); err != nil {
			t.Fatalf("node %d: login: %v", i+1, err)
		}
		page, err := cl.Changes(ctx, 0, 0)
		if err != nil {
			t.Fatalf("node %d: changes: %v", i+1, err)
		}
		mail := 0
		for _, c := range page.Changes {
			if c.Kind != store.KindMail {
				continue
			}
			mail++
			doc, err := cl.Get(ctx, c.ID)
			if err != nil {
				t.Fatalf("node %d: get %s: %v", i+1, c.ID, err)
			}
			orig, err := src.Mailbox().Get(ctx, reader.User.Address, c.ID)
			if err != nil || !bytes.Equal(doc.Data, orig.Data) {
				t.Fatalf("node %d: document %s differs from the embedded store's (%v)", i+1, c.ID, err)
			}
		}
		if mail != migratePerAccount {
			t.Fatalf("node %d: the reader has %d messages, want %d", i+1, mail, migratePerAccount)
		}
	}
}

// sameMailbox fails unless address has the same change feed and
// documents in both stores.
func sameMailbox(ctx context.Context, a, b store.Store, address string) error {
	ca, err := a.Mailbox().Changes(ctx, address, 0, store.MaxPage)
	if err != nil {
		return err
	}
	cb, err := b.Mailbox().Changes(ctx, address, 0, store.MaxPage)
	if err != nil {
		return err
	}
	mail := 0
	for _, c := range ca {
		if c.Kind == store.KindMail {
			mail++
		}
	}
	if mail != migratePerAccount || len(ca) != len(cb) {
		return fmt.Errorf("%s: %d changes (%d mail) before the move, %d after, want %d mail", address, len(ca), mail, len(cb), migratePerAccount)
	}
	for i := range ca {
		if ca[i] != cb[i] {
			return fmt.Errorf("%s: change %d was %+v, is %+v", address, i, ca[i], cb[i])
		}
		da, err := a.Mailbox().Get(ctx, address, ca[i].DocID)
		if err != nil {
			return err
		}
		db, err := b.Mailbox().Get(ctx, address, ca[i].DocID)
		if err != nil {
			return err
		}
		if !bytes.Equal(da.Data, db.Data) {
			return fmt.Errorf("%s: document %s differs after the move", address, ca[i].DocID)
		}
	}
	return nil
}
