package bridge

import (
	"context"

	"umbra/bridge/mailstore"
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
