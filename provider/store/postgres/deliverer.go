package postgres

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
)

// Group delivery (docs/spec/store.md §13.2). An account's deliveries
// commit one at a time: each holds the account's row lock (which orders
// its change sequence) through its commit's WAL flush. Mail to one busy
// account then costs one flush per message, and PostgreSQL's own group
// commit cannot help. So concurrent Deliver calls of one process go to one
// goroutine, which, as the SQLite store's writer does, takes the first
// waiting delivery and everything else already queued (up to
// maxDeliveries), sends them all in one pipelined transaction, and
// answers each caller only after that transaction has committed: many
// deliveries share one round trip and one flush, and no acknowledgement
// comes before its commit.
//
// The deliveries are sorted by account and message id, so transactions
// of several nodes take the accounts' row locks in one order and do not
// deadlock. A batch that fails (an account that does not exist, a broken
// connection) is run again one delivery at a time, so each caller gets
// its own outcome.
const (
	maxDeliveries   = 128
	deliveriesQueue = 1024
)

// delivery is one Deliver call waiting for its group's commit.
type delivery struct {
	address string
	id      store.MessageID
	data    []byte
	at      int64  // when delivered, in nanoseconds
	docID   string // set by the run that stores it
	created bool
	done    chan error // buffered: the loop never blocks on an answer
}

type deliverer struct {
	s *Store

	mu     sync.RWMutex // guards closed and sending on queue
	closed bool
	queue  chan *delivery
	exited chan struct{}

	groups atomic.Int64 // transactions that stored a whole group (tests check that groups form)
}

func newDeliverer(s *Store) *deliverer {
	d := &deliverer{s: s, queue: make(chan *delivery, deliveriesQueue), exited: make(chan struct{})}
	go d.loop()
	return d
}

// deliver queues one delivery and waits for its commit. Once queued it is
// not cancelled by ctx: the caller must learn whether it happened
// (bounded by writeTimeout).
func (d *deliverer) deliver(ctx context.Context, r *delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.done = make(chan error, 1)
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case d.queue <- r:
	case <-ctx.Done():
		d.mu.RUnlock()
		return ctx.Err()
	}
	d.mu.RUnlock()
	return <-r.done
}

// close stops accepting deliveries, stores those queued and waits.
func (d *deliverer) close() {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()
	<-d.exited
}

func (d *deliverer) loop() {
	defer close(d.exited)
	group := make([]*delivery, 0, maxDeliveries)
	for first := range d.queue {
		group = append(group[:0], first)
	collect:
		for len(group) < maxDeliveries {
			select {
			case r, ok := <-d.queue:
				if !ok {
					break collect
				}
				group = append(group, r)
			default:
				break collect
			}
		}
		d.run(group)
		clear(group) // drop references to answered deliveries
	}
}

// run stores a group in one transaction, or, if that fails, one by one.
func (d *deliverer) run(group []*delivery) {
	slices.SortFunc(group, func(a, b *delivery) int {
		return cmp.Or(cmp.Compare(a.address, b.address), bytes.Compare(a.id[:], b.id[:]))
	})
	err := d.s.batch(context.Background(), func() *pgx.Batch {
		b := &pgx.Batch{}
		for _, r := range group {
			queueDelivery(b, r)
		}
		return b
	})
	if err == nil {
		d.groups.Add(1)
	}
	if err == nil || len(group) == 1 {
		for _, r := range group {
			r.done <- err
		}
		return
	}
	for _, r := range group {
		r.done <- d.s.batch(context.Background(), func() *pgx.Batch {
			b := &pgx.Batch{}
			queueDelivery(b, r)
			return b
		})
	}
}

// queueDelivery adds one delivery to b: one statement, run by the server
// in order: the delivery record first, which waits for a concurrent
// delivery of the same message (from another node too) and then inserts
// nothing; then, only if the record is this one, the account's next
// sequence number, whose row lock is held just through the commit, and
// the document. A redelivery changes nothing. (One statement rather than
// three: PostgreSQL's CPU per delivery is what bounds a busy node.) r's
// results are set afresh, as the batch may run more than once.
func queueDelivery(b *pgx.Batch, r *delivery) {
	r.docID, r.created = store.NewDocID(), false
	b.Queue(`WITH d AS (
			INSERT INTO deliveries (address, message_id, doc_id, delivered) VALUES ($1, $2, $3, $6)
			ON CONFLICT (address, message_id) DO NOTHING RETURNING address
		), a AS (
			UPDATE accounts SET last_seq = last_seq + 1 WHERE address = (SELECT address FROM d) RETURNING last_seq
		), doc AS (
			INSERT INTO documents (address, id, kind, revision, seq, deleted, data)
			SELECT $1, $3, $4, 1, last_seq, false, $5 FROM a RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM d) AND EXISTS (SELECT 1 FROM doc)`,
		r.address, r.id[:], r.docID, store.KindMail, notNull(r.data), r.at).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&r.created)
			if isForeignKey(err) {
				return fmt.Errorf("%w: account %s", store.ErrNotFound, r.address)
			}
			return err
		})
}
