package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// retryListen is the pause before WatchChanges connects again after
	// losing its connection.
	retryListen = time.Second
	// notifyTimeout bounds one NOTIFY of the changes made meanwhile.
	notifyTimeout = 10 * time.Second
)

// notifier announces, after their commit, the accounts whose documents
// changed: NOTIFY NotifyChannel with the address. Not from inside the
// writing transaction: PostgreSQL serialises the commits of all
// transactions that NOTIFY (a cluster-wide lock held through the commit's
// WAL flush), which would end group commit for deliveries. Instead one
// goroutine sends, in one statement, every address that changed since
// its last send; its transaction writes no WAL, so holding that lock
// costs little. A NOTIFY that fails is not retried: the other nodes'
// long-polls then wake at their timeout.
type notifier struct {
	pool    *pgxpool.Pool
	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{} // buffered 1: a send is due
	stop    chan struct{} // closed by close
	done    chan struct{} // closed when the loop has sent the last changes
}

func newNotifier(pool *pgxpool.Pool) *notifier {
	n := &notifier{pool: pool, pending: map[string]bool{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go n.loop()
	return n
}

// changed queues address for the next NOTIFY.
func (n *notifier) changed(address string) {
	n.mu.Lock()
	n.pending[address] = true
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) loop() {
	defer close(n.done)
	for {
		select {
		case <-n.wake:
			n.send()
		case <-n.stop:
			n.send()
			return
		}
	}
}

// send NOTIFYs every pending address, in one statement.
func (n *notifier) send() {
	n.mu.Lock()
	addrs := make([]string, 0, len(n.pending))
	for a := range n.pending {
		addrs = append(addrs, a)
	}
	clear(n.pending)
	n.mu.Unlock()
	if len(addrs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	n.pool.Exec(ctx, `SELECT pg_notify('`+NotifyChannel+`', a) FROM unnest($1::text[]) AS a`, addrs) // see the type's comment
}

// close sends what is pending and stops the loop.
func (n *notifier) close() {
	close(n.stop)
	<-n.done
}

// WatchChanges LISTENs on NotifyChannel on a connection of its own (not
// the pool's: a listening connection is never idle) and calls changed
// with each notification's address. When the connection breaks it
// connects again, then calls changed("") since notifications sent
// meanwhile are lost.
func (s *Store) WatchChanges(ctx context.Context, changed func(address string)) (func(), error) {
	conn, err := s.listen(ctx)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			relay(ctx, conn, changed)
			conn.Close(context.WithoutCancel(ctx))
			if ctx.Err() != nil {
				return
			}
			// The connection broke: a new one, and a wake-up for all.
			for conn = nil; conn == nil; {
				select {
				case <-ctx.Done():
					return
				case <-time.After(retryListen):
				}
				conn, _ = s.listen(ctx) // nil: try again after the pause
			}
			changed("")
		}
	})
	return wg.Wait, nil
}

// listen opens a connection with the pool's settings and LISTENs on it.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("postgres store: connect to listen: %w", err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+NotifyChannel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("postgres store: listen: %w", err)
	}
	return conn, nil
}

// relay passes conn's notifications to changed until ctx ends or the
// connection breaks.
func relay(ctx context.Context, conn *pgx.Conn, changed func(string)) {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		changed(n.Payload)
	}
}
