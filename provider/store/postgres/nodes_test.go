package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/provider/store"
)

// The tests below open one database as several stores, each with its own
// pool, as several `umbra server` nodes do.

func TestMigrate(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	from, to, err := Migrate(t.Context(), url)
	if err != nil || from != 0 || to != len(migrations) {
		t.Fatalf("Migrate of an empty database: %d → %d, %v", from, to, err)
	}
	from, to, err = Migrate(t.Context(), url)
	if err != nil || from != len(migrations) || to != len(migrations) {
		t.Fatalf("Migrate again: %d → %d, %v", from, to, err)
	}
	s := openTest(t, url)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES ($1)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), url); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// TestOpenTogether: nodes starting at once on an empty database apply
// each migration once.
func TestOpenTogether(t *testing.T) {
	t.Parallel()
	url := cluster.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(t.Context(), url)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, url)
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Fatalf("%d migrations recorded, %v; want %d", n, err, len(migrations))
	}
}

func nodes(t *testing.T, n int) []*Store {
	url := cluster.NewDatabase(t)
	var list []*Store
	for range n {
		list = append(list, openTest(t, url))
	}
	return list
}

// TestClaimAcrossNodes: two nodes draining one queue concurrently claim
// every entry once; a node's expired claims go to the other.
func TestClaimAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const entries = 200
	for i := range entries {
		m := store.Outbound{MessageID: sha256.Sum256(fmt.Appendf(nil, "m%d", i)), Domain: "example.org",
			Message: strings.NewReader("message"), Size: 7, NotBefore: now}
		if _, _, err := ns[i%2].Queue().Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			s, owner := ns[w%2], fmt.Sprintf("node%d/%d", w%2, w)
			for {
				es, err := s.Queue().Claim(ctx, now, 7, time.Hour, owner)
				if err != nil {
					t.Error(err)
					return
				}
				if len(es) == 0 {
					return
				}
				mu.Lock()
				for _, e := range es {
					if prev, dup := claimed[e.ID]; dup {
						t.Errorf("entry %d claimed by %s and %s", e.ID, prev, owner)
					}
					claimed[e.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != entries {
		t.Fatalf("%d entries claimed, want %d", len(claimed), entries)
	}
	// node0 "dies": at the lease's end node1 claims what node0 held.
	es, err := ns[1].Queue().Claim(ctx, now.Add(time.Hour), store.MaxPage, time.Hour, "node1/late")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != store.MaxPage && len(es) != entries {
		t.Fatalf("after the leases ended node1 claimed %d entries", len(es))
	}
	for _, e := range es {
		if e.Attempts != 2 || e.LeaseOwner != "node1/late" {
			t.Fatalf("reclaimed entry %+v", e)
		}
	}
}

// TestDeliverAcrossNodes: one message delivered by two nodes at once is
// one document, and the account's sequence has no gap.
func TestDeliverAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	ctx := t.Context()
	const addr = "alice@example.test"
	code := sha256.Sum256([]byte("code"))
	if err := ns[0].Accounts().AddInvited(ctx, addr, code); err != nil {
		t.Fatal(err)
	}
	if err := ns[1].Accounts().Activate(ctx, addr, code, store.ModeParanoid); err != nil {
		t.Fatal(err)
	}
	const messages = 50
	docs := make([][2]string, messages)
	var wg sync.WaitGroup
	for i := range messages {
		for n := range 2 {
			wg.Go(func() {
				id, _, err := ns[n].Mailbox().Deliver(ctx, addr, sha256.Sum256(fmt.Appendf(nil, "m%d", i)), strings.NewReader("mail"), 4, time.Now())
				if err != nil {
					t.Error(err)
				}
				docs[i][n] = id
			})
		}
	}
	wg.Wait()
	for i, d := range docs {
		if d[0] != d[1] {
			t.Fatalf("message %d became documents %q and %q", i, d[0], d[1])
		}
	}
	head, err := ns[0].Mailbox().Head(ctx, addr)
	if err != nil || head != messages {
		t.Fatalf("head %d %v, want %d", head, err, messages)
	}
	cs, err := ns[1].Mailbox().Changes(ctx, addr, 0, store.MaxPage)
	if err != nil || len(cs) != messages || cs[messages-1].Seq != messages {
		t.Fatalf("changes: %d, %v", len(cs), err)
	}
}

// watch subscribes to s's change feed until t ends.
func watch(t *testing.T, s *Store) <-chan string {
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan string, 16)
	wait, err := s.WatchChanges(ctx, func(a string) { got <- a })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); wait() })
	return got
}

// TestWatchAcrossNodes: a document written through one node wakes a
// watcher of the other node within a second.
func TestWatchAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	ctx := t.Context()
	got := watch(t, ns[0])
	const addr = "bob@example.test"
	code := sha256.Sum256([]byte("code"))
	if err := ns[1].Accounts().AddInvited(ctx, addr, code); err != nil {
		t.Fatal(err)
	}
	if err := ns[1].Accounts().Activate(ctx, addr, code, store.ModeParanoid); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ns[1].Mailbox().Deliver(ctx, addr, sha256.Sum256([]byte("m")), strings.NewReader("mail"), 4, time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a != addr {
			t.Fatalf("notified of %q, want %q", a, addr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification of a delivery on the other node")
	}
	// A write that fails notifies nobody.
	if _, err := ns[1].Mailbox().Put(ctx, addr, "doc", "note", 7, strings.NewReader("x"), 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Put with a wrong revision: %v", err)
	}
	if _, err := ns[1].Mailbox().Put(ctx, addr, "doc", "note", 0, strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if a := <-got; a != addr {
		t.Fatalf("notified of %q", a)
	}
	select {
	case a := <-got:
		t.Fatalf("a second notification (%q) for one committed write", a)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestWatchReconnects: when the listening connection is killed, the feed
// connects again and says that changes may have been missed.
func TestWatchReconnects(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 1)
	ctx := t.Context()
	got := watch(t, ns[0])
	_, err := ns[0].pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a != "" {
			t.Fatalf("after a reconnection: %q, want \"\"", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnection")
	}
}
