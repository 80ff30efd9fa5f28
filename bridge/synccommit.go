package bridge

import (
	"context"
	"time"

	"umbra/bridge/mailstore"
	"umbra/dmap"
)

// The sync engine's commits, all of them here (docs/spec/sync.md §7.4,
// "Batching"):
//
//   - What the applier applies goes into a batch (batcher.cur): new
//     messages and the records of applied documents.
//   - A batch commits behind the applier (behind) when it is large
//     (maxBatch writes, maxBatchBytes of messages) or when the next
//     document is not there within batchLinger (applied): a lone new
//     message shows at once, and an initial sync commits many per fsync.
//   - A handler that reads the store flushes first (flush), so that it
//     sees every earlier document.
//   - A page's feed position commits with its last batch (pageDone), never
//     before the documents it covers; the last page of a pull is flushed.
//   - After a failed commit nothing more commits, and the page is applied
//     again from the cursor.

// A batch commits at the latest at maxBatch writes or maxBatchBytes of
// messages, or when the next document is not there within batchLinger.
const (
	maxBatch      = 512
	maxBatchBytes = 16 << 20
	batchLinger   = 20 * time.Millisecond
)

// batcher queues what the sync engine applies and commits it behind the
// applier: while one batch commits (on a goroutine of its own), the next
// fills, so the store's commits overlap the downloads, the opening of
// mail and the parsing for the next. At most one commit is under way, and
// batches commit in the order they were queued, so a batch that carries
// the feed cursor never commits before the documents it covers. After a
// failed commit nothing more commits: what was queued after it is
// dropped, to be applied again from the cursor, which cannot have moved
// past it. A batcher is used by one goroutine, the applier.
type batcher struct {
	b        *Bridge
	cur      *mailstore.Batch
	inflight chan error // the result of the commit under way; nil if none
	failed   error      // the first failed commit's error
}

func newBatcher(b *Bridge) *batcher { return &batcher{b: b, cur: new(mailstore.Batch)} }

// record queues the note that a document was applied at its revision;
// key is the message it concerns, if any.
func (q *batcher) record(ch dmap.Change, key string) error {
	return q.cur.PutDoc(mailstore.Doc{ID: ch.ID, Kind: ch.Kind, Revision: ch.Revision, Key: key})
}

// applied is called after each document: it starts the commit of the
// batch when it is full, or when next, the following document's fetch
// (nil at the end of a page), does not arrive within batchLinger.
func (q *batcher) applied(ctx context.Context, next chan fetched) error {
	if q.cur.Len() >= maxBatch || q.cur.Size() >= maxBatchBytes || next != nil && !arrives(next, batchLinger) {
		return q.behind(ctx)
	}
	return nil
}

// pageDone ends a page: with moves, the feed position next commits with
// the page's last batch; that batch commits behind the applier, or, with
// flush, now (the end of a pull, or a read of the store next).
func (q *batcher) pageDone(ctx context.Context, next int64, moves, flush bool) error {
	if moves {
		q.cur.SetCursor(next)
	}
	if flush {
		return q.flush(ctx)
	}
	return q.behind(ctx)
}

// arrives waits up to d for a fetch result, leaving it in its channel.
func arrives(c chan fetched, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-c:
		c <- r // the channel holds one result; put it back for the applier
		return true
	case <-t.C:
		return false
	}
}

// wait waits for the commit under way; it returns the error of any
// commit that failed.
func (q *batcher) wait() error {
	if q.inflight != nil {
		q.failed = <-q.inflight
		q.inflight = nil
	}
	return q.failed
}

// behind starts committing what is queued, once the commit under way has
// succeeded. The commit goes on when ctx ends: what was applied is kept.
func (q *batcher) behind(ctx context.Context) error {
	if err := q.wait(); err != nil {
		return err
	}
	if q.cur.Len() == 0 {
		return nil
	}
	batch, done := q.cur, make(chan error, 1)
	q.cur, q.inflight = new(mailstore.Batch), done
	go func() { done <- q.b.commit(context.WithoutCancel(ctx), batch) }()
	return nil
}

// flush commits everything queued and waits for it: afterwards the
// store's reads see every document applied so far.
func (q *batcher) flush(ctx context.Context) error {
	if err := q.wait(); err != nil {
		return err
	}
	q.failed = q.b.commit(context.WithoutCancel(ctx), q.cur)
	return q.failed
}

// commit commits batch and counts its messages as received: status
// counts what is durable.
func (b *Bridge) commit(ctx context.Context, batch *mailstore.Batch) error {
	n := batch.Adds()
	if err := b.store.Commit(ctx, batch); err != nil {
		return err
	}
	b.st.received(n)
	return nil
}

// recordDoc notes, straight in the store, that a document was applied at
// its revision (a handler that applied it to the store, after a flush).
func (b *Bridge) recordDoc(ctx context.Context, ch dmap.Change, key string) error {
	return b.store.PutDoc(ctx, mailstore.Doc{ID: ch.ID, Kind: ch.Kind, Revision: ch.Revision, Key: key})
}
