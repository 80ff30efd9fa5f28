package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"umbra/provider/store"
)

const (
	// maxAttempts bounds how often a transaction aborted by a deadlock
	// or a serialization failure is run again.
	maxAttempts = 5
	// writeTimeout bounds a write that has started: it is no longer
	// cancelled by its caller's context (the caller must learn whether
	// it happened), but a database that stops answering must not hold
	// the caller for ever.
	writeTimeout = time.Minute
	// defaultMaxConns is a node's connections to PostgreSQL unless the
	// URL says otherwise (pool_max_conns): two nodes and the tools stay
	// well under PostgreSQL's default max_connections of 100.
	defaultMaxConns = 16
)

// Store is a store.Store backed by PostgreSQL.
type Store struct {
	pool       *pgxpool.Pool
	notes      *notifier
	deliveries *deliverer
	closed     atomic.Bool

	closeOnce sync.Once
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.ChangeFeed = (*Store)(nil)
)

// IsURL reports whether db names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a directory of the embedded store.
func IsURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Open connects to the database at url (a postgres:// URL or a libpq
// key=value string), brings its schema up to date and returns the store.
// Several processes may open one database at once.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default, the number of CPUs (at least 4), is too few
		// for a node's DMTP and DMAP sessions: each request makes a
		// few short reads, and a delivery waits for a connection
		// behind others' reads. The URL's pool_max_conns overrides.
		cfg.MaxConns = max(cfg.MaxConns, defaultMaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, notes: newNotifier(pool)}
	s.deliveries = newDeliverer(s)
	return s, nil
}

// Checkpoint vacuums the tables that deletions empty (documents, queue,
// login data), so deleted rows leave the tables' live pages. PostgreSQL
// offers no way to overwrite them in its write-ahead log or free space
// (docs/spec/store.md §7.1 holds only for the embedded store): an
// operator who needs that encrypts the database's disk.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	// Rate buckets that have refilled hold nothing a new one would not.
	if _, err := s.pool.Exec(ctx, `DELETE FROM rate_buckets WHERE full_at <= $1`, time.Now().UnixNano()); err != nil {
		return s.fail("checkpoint: sweep rate buckets", err)
	}
	// VACUUM cannot run inside a transaction: the simple protocol sends
	// it on its own.
	_, err := s.pool.Exec(ctx, `VACUUM documents, queue, sessions, spent_refresh, challenges, rate_buckets`, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return s.fail("checkpoint", err)
	}
	return nil
}

// Close waits for the queries in flight and closes the pool. Later calls
// do nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.deliveries.close() // stores the deliveries already queued
		s.closed.Store(true)
		s.notes.close()
		s.pool.Close()
	})
	return nil
}

func (s *Store) Accounts() store.Accounts           { return accounts{s} }
func (s *Store) Signets() store.Signets             { return signets{s} }
func (s *Store) Mailbox() store.Mailbox             { return mailbox{s} }
func (s *Store) Queue() store.Queue                 { return queue{s} }
func (s *Store) RemoteSignets() store.RemoteSignets { return remotes{s} }
func (s *Store) Devices() store.Devices             { return devices{s} }
func (s *Store) Challenges() store.Challenges       { return challenges{s} }
func (s *Store) Sessions() store.Sessions           { return sessions{s} }
func (s *Store) Keylog() store.Keylog               { return keylog{s} }

// write runs fn in a transaction and commits it. fn must wrap its own
// errors; it may run more than once (after a deadlock or serialization
// failure), so it must set its results afresh each time.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.retry(ctx, func(ctx context.Context) error { return s.writeOnce(ctx, fn) })
}

// batch sends the statements mk returns in one round trip, run by the
// server in order as one implicit transaction, committed when batch
// returns nil. Like write's fn, mk may be called more than once.
func (s *Store) batch(ctx context.Context, mk func() *pgx.Batch) error {
	return s.retry(ctx, func(ctx context.Context) error {
		err := s.pool.SendBatch(ctx, mk()).Close()
		if err != nil && s.closed.Load() {
			return store.ErrClosed
		}
		return err
	})
}

// retry runs a write, once started no longer cancelled by ctx, again
// after a deadlock or serialization failure.
func (s *Store) retry(ctx context.Context, run func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := run(ctx)
		if attempt < maxAttempts && retryable(err) {
			continue
		}
		return err
	}
}

func (s *Store) writeOnce(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.fail("begin", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(ctx, tx))
	}
	if err := tx.Commit(ctx); err != nil {
		return s.fail("commit", err)
	}
	return nil
}

// rollback abandons tx; an error is returned only if the connection
// broke (then PostgreSQL rolls back by itself).
func rollback(ctx context.Context, tx pgx.Tx) error {
	if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres store: rollback: %w", err)
	}
	return nil
}

// read runs fn in a read-only REPEATABLE READ transaction: one
// consistent snapshot even when fn issues several queries.
func (s *Store) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.fail("begin read", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // read-only: nothing to lose
	return fn(tx)
}

// row runs one query that returns a row, outside a transaction: one
// statement reads one snapshot, in one round trip (the reads of every
// authenticated request and of every download are such).
func (s *Store) row(ctx context.Context, query string, args ...any) pgx.Row {
	if s.closed.Load() {
		return closedRow{}
	}
	return checkedRow{s, s.pool.QueryRow(ctx, query, args...)}
}

// closedRow is the row of a closed store.
type closedRow struct{}

func (closedRow) Scan(...any) error { return store.ErrClosed }

// checkedRow reports ErrClosed if Close ran while its query did.
type checkedRow struct {
	s *Store
	r pgx.Row
}

func (c checkedRow) Scan(dest ...any) error {
	err := c.r.Scan(dest...)
	if err != nil && c.s.closed.Load() {
		return store.ErrClosed
	}
	return err
}

// fail wraps err from the pool or a transaction's start or end: ErrClosed
// if Close ran meanwhile, the context's error as it is.
func (s *Store) fail(what string, err error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return fmt.Errorf("postgres store: %s: %w", what, err)
}

// notRetryable marks the error of a write that must not run again,
// whatever error it wraps: one that has read its caller's stream, which
// cannot be read twice.
type notRetryable struct{ error }

func (e notRetryable) Unwrap() error { return e.error }

// retryable reports whether err is PostgreSQL aborting a transaction that
// succeeds when run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, new(notRetryable)):
		return false
	case errors.Is(err, errRaced):
		return true
	}
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// isUnique reports whether err is a unique constraint violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
