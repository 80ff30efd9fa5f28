package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"umbra/backoff"
	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
)

// syncEngine keeps the local store and the provider's documents in step
// (docs/spec/sync.md §7). Its pull follows the account's change feed and
// applies each document, dispatching on the table of document kinds
// (synckinds.go); the handlers of the message kinds are in apply.go, those
// of the others beside what they concern (folders.go, contactsync.go,
// keyring.go, spamsync.go). The pull's parts: the loop and the feed pages
// (this file), a page's prefetching and applying (syncpage.go), and every
// commit (synccommit.go). Its push (pushLoop, push.go) writes this
// device's changes.
//
// Concurrency: one goroutine pulls at a time (the pull loop, or Sync when
// the loop is not running); within a pull, prefetch workers download and
// open documents concurrently, and one applier applies them in feed
// order. The push loop runs beside it.
type syncEngine struct {
	b *Bridge
	// catchingUp: the last feed page was full (push waits for the end).
	catchingUp atomic.Bool
	// unknown holds the kinds this engine has logged as unknown
	// (unknownKind); only the applier uses it.
	unknown map[string]bool
}

func newSyncEngine(b *Bridge) *syncEngine { return &syncEngine{b: b, unknown: map[string]bool{}} }

// syncRetry is the wait of the pull and push loops after a failure.
var syncRetry = backoff.Policy{Base: time.Second, Max: time.Minute}

// loop follows the change feed until ctx ends, backing off while the
// provider cannot be reached.
func (e *syncEngine) loop(ctx context.Context) {
	b := e.b
	failures := 0
	var audited time.Time
	for ctx.Err() == nil {
		err := e.pullOnce(ctx, b.cfg.Wait)
		if err == nil && b.now().Sub(audited) >= auditInterval {
			// The audit follows the sync, at most once a minute: a key
			// made in the user's name is found within a minute of its
			// logging, and the first audit runs right after start.
			audited = b.now()
			if _, aerr := b.AuditLog(ctx); aerr != nil && ctx.Err() == nil {
				b.setError("audit", aerr)
				b.log.Warn("audit failed", "err", aerr)
			}
		}
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		if !e.failed(ctx, "pull", failures, err) {
			return
		}
	}
}

// failed reports the failures-th failure in a row of the pull or the push
// loop and waits out its back-off; false when ctx ended meanwhile.
func (e *syncEngine) failed(ctx context.Context, loop string, failures int, err error) bool {
	wait := syncRetry.Delay(failures)
	e.b.setError(loop, err)
	e.b.log.Warn("sync: "+loop+" failed", "err", err, "retry_in", wait)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(wait):
		return true
	}
}

// Sync pulls until the feed has nothing more, without waiting for new
// changes: what a caller uses to converge now (tests, benchmarks).
func (b *Bridge) Sync(ctx context.Context) error { return b.sync.pullOnce(ctx, 0) }

// pullOnce applies feed pages from the cursor until a page is not full.
// With wait > 0 the first empty answer long-polls. The next page is asked
// for while one is applied, and each page's cursor commits with its last
// batch, so the downloads and the store's commits go on across pages.
func (e *syncEngine) pullOnce(ctx context.Context, wait time.Duration) (err error) {
	b := e.b
	// The sync engine's writes are not the user's: they train no spam
	// filter (spamtrain.go).
	ctx = mailstore.WithActor(ctx, pullActor)
	since, err := b.store.Cursor(ctx)
	if err != nil {
		return err
	}
	q := newBatcher(b)
	// What was applied before a failure is kept.
	defer func() {
		if ferr := q.flush(ctx); err == nil {
			err = ferr
		}
	}()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := e.readPage(rctx, since, wait)
	// listed is, during a resync from scratch, every id the feed lists.
	var listed map[string]bool
	for {
		r := <-next
		if listed == nil && errors.Is(r.err, dmap.ErrResync) {
			// The provider collected tombstones this device has not seen
			// (docs/spec/dmap.md §8.6): read the whole feed again. The
			// cursor stays where it was until the resync is complete, so
			// one interrupted starts over.
			b.log.Info("sync: tombstones since the cursor were collected; syncing again from scratch", "cursor", since)
			listed = map[string]bool{}
			next = e.readPage(rctx, 0, 0)
			continue
		}
		if r.err != nil {
			return b.relogin(ctx, r.err)
		}
		b.st.setOnline(true)
		page := cutAtKeyring(r.page)
		e.catchingUp.Store(page.More)
		if page.More {
			next = e.readPage(rctx, page.Next, 0)
		}
		if err := e.applyPage(ctx, q, page.Changes); err != nil {
			return err
		}
		// The feed position moves with the page, except within a resync,
		// where it moves only after the sweep at its end.
		moves := listed == nil
		if listed != nil {
			for _, ch := range page.Changes {
				listed[ch.ID] = true
			}
			if !page.More {
				if err := e.dropUnlisted(ctx, q, listed); err != nil {
					return err
				}
				moves = true
			}
		}
		// reapFolders reads the store; the last page is flushed.
		reap := len(b.doomed) > 0
		if err := q.pageDone(ctx, page.Next, moves, reap || !page.More); err != nil {
			return err
		}
		if reap {
			if err := b.reapFolders(ctx); err != nil {
				return err
			}
		}
		b.st.setCursor(page.Next, page.Head, page.More)
		if !page.More {
			wake(b.pushWake)
			return nil
		}
	}
}

// cutAtKeyring ends a page at its keyring document (keyring.go): the mail
// after it may be sealed to the keys it brings, so it is fetched, and
// opened, only once they are taken, with the next page.
func cutAtKeyring(p dmap.Page) dmap.Page {
	for i, ch := range p.Changes {
		if ch.Kind == syncdoc.KindKeyring && i+1 < len(p.Changes) {
			p.Changes = p.Changes[:i+1]
			p.Next, p.More = ch.Seq, true
			break
		}
	}
	return p
}

// dropUnlisted ends a resync from scratch: a message whose content
// document this device applied, and which the whole feed no longer lists,
// was deleted and its tombstone collected, so it goes exactly as that
// tombstone would have taken it (apply). Only a tombstone of a content
// document removes anything here; those of other kinds are records
// alone. The provider is asked before: a document written after its page
// was read (this device's push, say) is not gone, and the next page lists
// it.
func (e *syncEngine) dropUnlisted(ctx context.Context, q *batcher, listed map[string]bool) error {
	b := e.b
	if err := q.flush(ctx); err != nil {
		return err
	}
	boxes, err := b.store.Mailboxes(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, mb := range boxes {
		msgs, err := b.store.List(ctx, mb.ID)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if id := syncdoc.ContentID(m.Key); !listed[id] {
				ids = append(ids, id)
			}
		}
	}
	applied, err := b.store.Revisions(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		rev, ok := applied[id]
		if !ok {
			continue // never at the provider: push writes it
		}
		_, err := b.cfg.Client.GetRange(ctx, id, 0, 1)
		if errors.Is(err, dmap.ErrDeleted) || err == nil {
			continue // written since its page was read: the next pull applies it
		}
		if !errors.Is(err, dmap.ErrNotFound) {
			return fmt.Errorf("resync: %s: %w", id, err)
		}
		gone := dmap.Change{ID: id, Kind: syncdoc.KindContent, Revision: rev + 1, Deleted: true}
		if err := e.apply(ctx, q, gone, fetched{}); err != nil {
			return fmt.Errorf("resync: %s: %w", id, err)
		}
	}
	return nil
}

// pageResult is one answer of the change feed.
type pageResult struct {
	page dmap.Page
	err  error
}

// readPage asks for the feed page after since on a goroutine of its own.
func (e *syncEngine) readPage(ctx context.Context, since int64, wait time.Duration) <-chan pageResult {
	c := make(chan pageResult, 1)
	go func() {
		page, err := e.b.cfg.Client.Changes(ctx, since, wait)
		c <- pageResult{page, err}
	}()
	return c
}
