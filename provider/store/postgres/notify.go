package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// retryListen is the pause before WatchChanges connects again after
// losing its connection.
const retryListen = time.Second

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
