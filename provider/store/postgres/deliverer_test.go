package postgres

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/provider/store"
)

// TestDeliverGroups: concurrent deliveries on two nodes to several
// accounts, some to an account that does not exist, share transactions
// (fewer groups than deliveries), never deadlock (the groups lock the
// accounts in one order), and each caller gets its own outcome: the
// missing account's deliveries fail alone, every other account's change
// sequence is 1..n without gaps, and each message is one document.
func TestDeliverGroups(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	ctx := t.Context()
	addrs := []string{"a@example.test", "b@example.test", "c@example.test", "missing@example.test"}
	for _, a := range addrs[:3] {
		code := sha256.Sum256([]byte(a))
		if err := ns[0].Accounts().AddInvited(ctx, a, code); err != nil {
			t.Fatal(err)
		}
		if err := ns[0].Accounts().Activate(ctx, a, code, store.ModeParanoid); err != nil {
			t.Fatal(err)
		}
	}
	const perAccount = 40
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		docs = map[string]map[string]bool{} // address → doc ids
	)
	for _, a := range addrs {
		docs[a] = map[string]bool{}
	}
	for _, a := range addrs {
		for i := range perAccount {
			// Every message goes to both nodes at once: one document.
			for _, n := range ns {
				wg.Go(func() {
					id, _, err := n.Mailbox().Deliver(ctx, a, sha256.Sum256(fmt.Appendf(nil, "%s %d", a, i)), strings.NewReader("mail"), 4, time.Now())
					if a == addrs[3] {
						if !errors.Is(err, store.ErrNotFound) {
							t.Errorf("delivery to a missing account: %v, want ErrNotFound", err)
						}
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					docs[a][id] = true
					mu.Unlock()
				})
			}
		}
	}
	wg.Wait()
	for _, a := range addrs[:3] {
		if len(docs[a]) != perAccount {
			t.Errorf("%s: %d documents, want %d", a, len(docs[a]), perAccount)
		}
		cs, err := ns[1].Mailbox().Changes(ctx, a, 0, store.MaxPage)
		if err != nil || len(cs) != perAccount {
			t.Fatalf("%s: %d changes, %v", a, len(cs), err)
		}
		for i, c := range cs {
			if c.Seq != int64(i+1) || !docs[a][c.DocID] {
				t.Fatalf("%s: change %d is %+v", a, i, c)
			}
		}
	}
	total := int64(len(addrs) * perAccount * len(ns))
	if g := ns[0].deliveries.groups.Load() + ns[1].deliveries.groups.Load(); g == 0 || g >= total/2 {
		t.Errorf("%d deliveries committed in %d whole groups: they do not share transactions", total, g)
	}
}
