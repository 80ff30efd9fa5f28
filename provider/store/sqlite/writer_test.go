package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"umbra/provider/store"
)

// TestDurabilitySettings: the writer runs with the settings that make a
// commit durable (docs/spec/store.md §7).
func TestDurabilitySettings(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	var journal string
	var sync, fks int
	err := s.w.do(t.Context(), func(tx *wtx) error {
		return errors.Join(
			tx.queryRow(`PRAGMA journal_mode`).Scan(&journal),
			tx.queryRow(`PRAGMA synchronous`).Scan(&sync),
			tx.queryRow(`PRAGMA foreign_keys`).Scan(&fks))
	})
	if err != nil {
		t.Fatal(err)
	}
	if journal != "wal" || sync != 2 || fks != 1 {
		t.Fatalf("journal_mode=%s synchronous=%d foreign_keys=%d, want wal, 2 (FULL), 1", journal, sync, fks)
	}
}

// TestWriterCancel: a request whose context ends while it waits in the
// queue never runs; one whose context ends while it runs is waited for
// and reports the commit's outcome.
func TestWriterCancel(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	started, release := make(chan struct{}), make(chan struct{})
	blockerCtx, cancelBlocker := context.WithCancel(t.Context())
	blocker := make(chan error)
	go func() {
		blocker <- s.w.do(blockerCtx, func(tx *wtx) error {
			close(started)
			<-release
			_, err := tx.exec(`INSERT INTO remote_signets (domain, signet, fetched, expires) VALUES ('a.test', X'01', 1, 2)`)
			return err
		})
	}()
	<-started // the writer is now busy with the blocker

	queuedCtx, cancelQueued := context.WithCancel(t.Context())
	ran := false
	queued := make(chan error)
	go func() {
		queued <- s.w.do(queuedCtx, func(tx *wtx) error { ran = true; return nil })
	}()
	cancelQueued()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued request: %v, want context.Canceled", err)
	}

	cancelBlocker() // while it runs
	close(release)
	if err := <-blocker; err != nil {
		t.Fatalf("running request: %v, want its commit's outcome (nil)", err)
	}
	// A later write runs after the cancelled one would have.
	if err := s.w.do(t.Context(), func(tx *wtx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("a request cancelled in the queue was run")
	}
	if _, err := s.RemoteSignets().Get(t.Context(), "a.test"); err != nil {
		t.Fatalf("the running request's write is missing: %v", err)
	}
}

// TestTouchCoalesced: a Touch within store.TouchInterval of the stored
// last seen time does not go through the writer (no commit, no fsync), so
// authenticated requests do not each cost a durable write.
func TestTouchCoalesced(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	const addr = "alice@example.test"
	code := [32]byte{1}
	d := store.Device{Account: addr, ID: "d", Key: make([]byte, 32), Name: "phone", Created: time.Unix(1e9, 0)}
	for _, err := range []error{
		s.Accounts().AddInvited(ctx, addr, code),
		s.Accounts().Activate(ctx, addr, code, store.ModeParanoid),
		s.Devices().Add(ctx, d),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	at := time.Unix(2e9, 0)
	touch := func(when time.Time, wantCommits int64) {
		t.Helper()
		before := s.w.commits.Load()
		if err := s.Devices().Touch(ctx, addr, d.ID, when); err != nil {
			t.Fatal(err)
		}
		if got := s.w.commits.Load() - before; got != wantCommits {
			t.Fatalf("Touch at %v: %d commits, want %d", when, got, wantCommits)
		}
	}
	touch(at, 1) // first seen
	touch(at.Add(time.Second), 0)
	touch(at.Add(store.TouchInterval-1), 0)
	touch(at.Add(-time.Hour), 0)
	touch(at.Add(store.TouchInterval), 1)
}
