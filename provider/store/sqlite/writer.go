package sqlite

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"umbra/provider/store"
)

// Group commit (docs/spec/store.md §7). Every write is a request to one writer
// goroutine, which owns the only write connection. When it is idle it
// takes the first request that arrives; then, without waiting, everything
// else already queued, up to maxBatch; runs them all in ONE transaction,
// each inside its own savepoint, so a request that fails is rolled back
// alone; commits once (one WAL fsync with synchronous=FULL); and only then
// answers every request. Requests that arrive during a commit wait for the
// next one: under light load a write costs one fsync and no added delay,
// under heavy load many writes share each fsync.
const (
	maxBatch  = 256
	queueSize = 1024
)

// A writeFn runs inside the batch transaction. It reports its results
// through variables it closes over, which its caller reads after the
// request is answered.
type writeFn func(tx *wtx) error

const (
	reqPending int32 = iota
	reqStarted
	reqCancelled
)

type request struct {
	fn    writeFn
	state atomic.Int32 // reqPending → reqStarted (writer) or reqCancelled (caller)
	done  chan error   // buffered: the writer never blocks on an answer
}

type writer struct {
	tx *wtx // the write connection; only loop uses it

	mu     sync.RWMutex // guards closed and sending on reqs
	closed bool
	reqs   chan *request
	exited chan struct{}

	commits atomic.Int64 // transactions committed (benchmarks report writes per commit)
}

func newWriter(tx *wtx) *writer {
	w := &writer{tx: tx, reqs: make(chan *request, queueSize), exited: make(chan struct{})}
	go w.loop()
	return w
}

// do submits fn and waits for its outcome. If ctx ends before the writer
// has started fn, fn never runs and do returns ctx's error; once fn has
// started, do waits for the commit, so the caller always knows whether
// its write happened (the bytes fn reads are never touched after do
// returns).
func (w *writer) do(ctx context.Context, fn writeFn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{fn: fn, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqCancelled) {
			return ctx.Err()
		}
		return <-r.done
	}
}

// close stops accepting requests, lets the writer finish those queued and
// waits for it.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.reqs)
	}
	w.mu.Unlock()
	<-w.exited
}

func (w *writer) isClosed() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.closed
}

func (w *writer) loop() {
	defer close(w.exited)
	batch := make([]*request, 0, maxBatch)
	for first := range w.reqs {
		batch = append(batch[:0], first)
	collect:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		w.run(batch)
		clear(batch) // drop references to finished requests
	}
}

// run executes one batch in one transaction and answers every request.
func (w *writer) run(batch []*request) {
	var live []*request
	for _, r := range batch {
		if r.state.CompareAndSwap(reqPending, reqStarted) {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	tx := w.tx
	// IMMEDIATE takes the write lock now, not at the first write, so a
	// busy database is reported here, before any request has run.
	if _, err := tx.exec(`BEGIN IMMEDIATE`); err != nil {
		answerAll(live, fmt.Errorf("sqlite store: begin: %w", err))
		return
	}
	applied := live[:0:0]
	for i, r := range live {
		err, fatal := runOne(tx, r.fn)
		if fatal != nil {
			// The transaction is unusable: nothing in it can commit.
			rollback(tx)
			answerAll(applied, fatal)
			r.done <- fatal
			answerAll(live[i+1:], fatal)
			return
		}
		if err != nil {
			r.done <- err
			continue
		}
		applied = append(applied, r)
	}
	if _, err := tx.exec(`COMMIT`); err != nil {
		rollback(tx)
		answerAll(applied, fmt.Errorf("sqlite store: commit: %w", err))
		return
	}
	w.commits.Add(1)
	answerAll(applied, nil)
}

// rollback abandons the transaction, if SQLite has not already done so.
func rollback(tx *wtx) {
	if !tx.c.GetAutocommit() {
		tx.c.Exec(`ROLLBACK`) // a failure leaves nothing more to undo
	}
}

// runOne runs fn inside a savepoint. err is fn's own failure, after which
// the savepoint has been rolled back and the transaction goes on; fatal is
// a failure of the savepoint machinery itself, after which the whole
// transaction must be abandoned.
func runOne(tx *wtx, fn writeFn) (err, fatal error) {
	if _, e := tx.exec(`SAVEPOINT request`); e != nil {
		return nil, fmt.Errorf("sqlite store: savepoint: %w", e)
	}
	if err = fn(tx); err != nil {
		if _, e := tx.exec(`ROLLBACK TO request`); e != nil {
			return nil, fmt.Errorf("sqlite store: rollback to savepoint after %v: %w", err, e)
		}
	}
	if _, e := tx.exec(`RELEASE request`); e != nil {
		return nil, fmt.Errorf("sqlite store: release savepoint: %w", e)
	}
	return err, nil
}

func answerAll(rs []*request, err error) {
	for _, r := range rs {
		r.done <- err
	}
}
