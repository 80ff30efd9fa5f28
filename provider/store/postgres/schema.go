package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// NotifyChannel is the channel on which a committed change to an
// account's documents is announced, with the account's address.
const NotifyChannel = "umbra_changes"

// migrations[i] takes the schema from version i to version i+1. Each is
// applied in its own transaction, with the schema_migrations row that
// records it, under an advisory lock so that nodes starting together
// apply it once. Never edit a migration that has shipped; append one.
//
// The tables are those of the SQLite store (docs/spec/store.md): times
// are BIGINT nanoseconds since the Unix epoch (0 = none); ids, hashes and
// fingerprints BYTEA of their raw bytes.
var migrations = []string{
	// 1: accounts, signets, documents, queue and signet cache (§2–§6).
	`
CREATE TABLE accounts (
	address    TEXT COLLATE "C" PRIMARY KEY, -- "C": ordered by bytes, as in SQLite
	state      TEXT NOT NULL CHECK (state IN ('invited', 'active', 'disabled')),
	code_hash  BYTEA,
	mode       TEXT NOT NULL,
	created    BIGINT NOT NULL,
	key_backup BYTEA,
	last_seq   BIGINT NOT NULL
);
CREATE TABLE signets (
	address     TEXT NOT NULL REFERENCES accounts (address),
	seq         BIGINT NOT NULL,
	fingerprint BYTEA NOT NULL UNIQUE,
	signet      BYTEA NOT NULL,
	added       BIGINT NOT NULL,
	PRIMARY KEY (address, seq)
);
CREATE TABLE documents (
	address  TEXT NOT NULL REFERENCES accounts (address),
	id       TEXT NOT NULL,
	kind     TEXT NOT NULL,
	revision BIGINT NOT NULL,
	seq      BIGINT NOT NULL,
	deleted  BOOLEAN NOT NULL,
	data     BYTEA NOT NULL,
	PRIMARY KEY (address, id)
);
CREATE UNIQUE INDEX documents_by_seq ON documents (address, seq);
CREATE TABLE deliveries (
	address    TEXT NOT NULL REFERENCES accounts (address),
	message_id BYTEA NOT NULL,
	doc_id     TEXT NOT NULL,
	PRIMARY KEY (address, message_id)
);
CREATE TABLE queue (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused
	message_id   BYTEA NOT NULL UNIQUE,
	domain       TEXT NOT NULL,
	message      BYTEA NOT NULL,
	bounce_to    BYTEA,
	created      BIGINT NOT NULL,
	attempts     INTEGER NOT NULL,
	next_attempt BIGINT NOT NULL,
	last_error   TEXT NOT NULL,
	lease_owner  TEXT NOT NULL,
	lease_until  BIGINT NOT NULL
);
CREATE INDEX queue_due ON queue (next_attempt, id);
CREATE TABLE remote_signets (
	domain  TEXT PRIMARY KEY,
	signet  BYTEA NOT NULL,
	fetched BIGINT NOT NULL,
	expires BIGINT NOT NULL
);
`,
	// 2: devices, login challenges, sessions and spent refresh tokens
	// (§9–§11).
	`
CREATE TABLE devices (
	account   TEXT NOT NULL REFERENCES accounts (address),
	id        TEXT COLLATE "C" NOT NULL,
	key       BYTEA NOT NULL CHECK (length(key) = 32),
	name      TEXT NOT NULL,
	created   BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	revoked   BIGINT,
	PRIMARY KEY (account, id),
	UNIQUE (account, key)
);
CREATE TABLE challenges (
	value   BYTEA PRIMARY KEY,
	purpose TEXT NOT NULL,
	address TEXT NOT NULL,
	key     BYTEA CHECK (key IS NULL OR length(key) = 32),
	expires BIGINT NOT NULL
);
CREATE INDEX challenges_by_expiry ON challenges (expires);
CREATE TABLE sessions (
	access_hash     BYTEA PRIMARY KEY,
	refresh_hash    BYTEA NOT NULL UNIQUE,
	account         TEXT NOT NULL,
	device_id       TEXT NOT NULL,
	issued          BIGINT NOT NULL,
	access_expires  BIGINT NOT NULL,
	refresh_expires BIGINT NOT NULL,
	FOREIGN KEY (account, device_id) REFERENCES devices (account, id)
);
CREATE INDEX sessions_by_device ON sessions (account, device_id);
CREATE INDEX sessions_by_expiry ON sessions (refresh_expires);
CREATE TABLE spent_refresh (
	refresh_hash BYTEA PRIMARY KEY,
	account      TEXT NOT NULL,
	device_id    TEXT NOT NULL,
	expires      BIGINT NOT NULL
);
CREATE INDEX spent_refresh_by_expiry ON spent_refresh (expires);
`,
	// 3: the transparency log (§12).
	`
CREATE TABLE keylog_records (
	n      BIGINT PRIMARY KEY,
	record BYTEA NOT NULL
);
CREATE TABLE keylog_hashes (
	i    BIGINT PRIMARY KEY,
	hash BYTEA NOT NULL
);
`,
	// 4: messages and documents are sealed (encrypted), so compressing
	// them gains nothing: pglz's failed attempt at every delivery was a
	// third of PostgreSQL's time in it (pg_stat_statements, umbra bench
	// dmtp). EXTERNAL keeps TOAST's out-of-line storage, uncompressed.
	`
ALTER TABLE documents ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE queue ALTER COLUMN message SET STORAGE EXTERNAL;
`,
	// 5: rate limits that must hold across nodes (ratelimits.go): one
	// token bucket per limit and key; full is when it will have refilled,
	// after which the row holds nothing worth keeping.
	`
CREATE TABLE rate_buckets (
	name   TEXT NOT NULL,
	key    BYTEA NOT NULL,
	tokens DOUBLE PRECISION NOT NULL,
	at     BIGINT NOT NULL,
	full_at BIGINT NOT NULL,
	PRIMARY KEY (name, key)
);
CREATE INDEX rate_buckets_by_full ON rate_buckets (full_at);
`,
	// 6: deletion with a horizon (§4.2, §4.5), as SQLite's version 5:
	// when each delivery was made and each tombstone deleted, and per
	// account the highest sequence number collected. Rows from before
	// this version count from the migration, so none is purged at once.
	`
ALTER TABLE deliveries ADD COLUMN delivered BIGINT NOT NULL DEFAULT 0;
UPDATE deliveries SET delivered = (extract(epoch FROM now()) * 1000000000)::BIGINT;
CREATE INDEX deliveries_by_time ON deliveries (delivered);
ALTER TABLE documents ADD COLUMN deleted_at BIGINT NOT NULL DEFAULT 0;
UPDATE documents SET deleted_at = (extract(epoch FROM now()) * 1000000000)::BIGINT WHERE deleted;
CREATE INDEX documents_tombstones ON documents (deleted_at) WHERE deleted;
ALTER TABLE accounts ADD COLUMN collected_seq BIGINT NOT NULL DEFAULT 0;
`,
}

// ErrSchemaTooNew is returned by Open for a database written by a newer
// version of Umbra, which this one must not touch.
var ErrSchemaTooNew = errors.New("postgres store: database schema is newer than this program")

// Advisory lock keys (pg_advisory_xact_lock), one per purpose, in a range
// unlikely to meet another application's on a shared server.
const (
	lockMigrate int64 = 0x756d627261_01 // "umbra" 1
	lockKeylog  int64 = 0x756d627261_02
)

// Migrate connects to the database at url, applies the migrations it
// lacks and disconnects. It returns the schema version before and after.
func Migrate(ctx context.Context, url string) (from, to int, err error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres store: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres store: connect: %w", err)
	}
	defer pool.Close()
	if from, err = version(ctx, pool); err != nil {
		return 0, 0, err
	}
	if err := migrate(ctx, pool); err != nil {
		return from, 0, err
	}
	to, err = version(ctx, pool)
	return from, to, err
}

// version returns the schema's version, 0 for an empty database.
func version(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var table bool
	err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&table)
	var v int
	if err == nil && table {
		err = pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres store: read schema version: %w", err)
	}
	return v, nil
}

// migrate applies the migrations the database lacks, each in its own
// transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	for v := range migrations {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return migrateTo(ctx, tx, v+1) }); err != nil {
			return err
		}
	}
	return nil
}

// migrateTo applies migration v (1-based) unless the database has it.
func migrateTo(ctx context.Context, tx pgx.Tx, v int) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockMigrate); err != nil {
		return fmt.Errorf("postgres store: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		applied TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres store: create schema_migrations: %w", err)
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("postgres store: read schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("%w: version %d, this program knows %d", ErrSchemaTooNew, have, len(migrations))
	}
	if have >= v {
		return nil
	}
	// The simple protocol runs a migration's several statements at once.
	if _, err := tx.Exec(ctx, migrations[v-1], pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("postgres store: migrate to version %d: %w", v, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v); err != nil {
		return fmt.Errorf("postgres store: record version %d: %w", v, err)
	}
	return nil
}
