package sqlite

import (
	"errors"
	"fmt"
)

// migrations[i] takes the schema from version i to version i+1. They are
// applied in order, each in the same transaction as the schema_version row
// that records it, so a crash leaves a whole version or none. Never edit a
// migration that has shipped; append a new one.
//
// Times are INTEGER nanoseconds since the Unix epoch (0 = none); ids,
// hashes and fingerprints are BLOBs of their raw bytes.
var migrations = []string{
	// 1: the initial schema (docs/spec/store.md §2–§6).
	`
CREATE TABLE accounts (
	address    TEXT PRIMARY KEY,
	state      TEXT NOT NULL CHECK (state IN ('invited', 'active', 'disabled')),
	code_hash  BLOB,             -- SHA-256 of the invitation code; NULL once activated
	mode       TEXT NOT NULL,    -- '' until activated
	created    INTEGER NOT NULL,
	key_backup BLOB,
	last_seq   INTEGER NOT NULL  -- the account's change sequence, last number used
) STRICT;

CREATE TABLE signets (
	address     TEXT NOT NULL REFERENCES accounts (address),
	seq         INTEGER NOT NULL,
	fingerprint BLOB NOT NULL UNIQUE,
	signet      BLOB NOT NULL,
	added       INTEGER NOT NULL,
	PRIMARY KEY (address, seq)
) STRICT;

CREATE TABLE documents (
	address  TEXT NOT NULL REFERENCES accounts (address),
	id       TEXT NOT NULL,
	kind     TEXT NOT NULL,
	revision INTEGER NOT NULL,
	seq      INTEGER NOT NULL,
	deleted  INTEGER NOT NULL,
	data     BLOB NOT NULL,
	PRIMARY KEY (address, id)
) STRICT;
CREATE UNIQUE INDEX documents_by_seq ON documents (address, seq);

-- One row per delivered message, kept after its document is deleted so a
-- redelivery never resurrects it.
CREATE TABLE deliveries (
	address    TEXT NOT NULL REFERENCES accounts (address),
	message_id BLOB NOT NULL,
	doc_id     TEXT NOT NULL,
	PRIMARY KEY (address, message_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE queue (
	id           INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so a stale id names nothing
	message_id   BLOB NOT NULL UNIQUE,
	domain       TEXT NOT NULL,
	message      BLOB NOT NULL,
	bounce_to    BLOB,
	created      INTEGER NOT NULL,
	attempts     INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	last_error   TEXT NOT NULL,
	lease_owner  TEXT NOT NULL,   -- '' when never claimed or released
	lease_until  INTEGER NOT NULL -- 0 when released
) STRICT;
CREATE INDEX queue_due ON queue (next_attempt, id);

CREATE TABLE remote_signets (
	domain  TEXT PRIMARY KEY,
	signet  BLOB NOT NULL,
	fetched INTEGER NOT NULL,
	expires INTEGER NOT NULL
) STRICT;
`,
	// 2: devices, login challenges and token sessions (docs/spec/store.md §9–§11).
	`
-- A revoked device keeps its row (revoked set), so its key can never be
-- enrolled in the account again and its id never names another device.
CREATE TABLE devices (
	account   TEXT NOT NULL REFERENCES accounts (address),
	id        TEXT NOT NULL,
	key       BLOB NOT NULL CHECK (length(key) = 32),
	name      TEXT NOT NULL,
	created   INTEGER NOT NULL,
	last_seen INTEGER NOT NULL, -- 0 until first seen
	revoked   INTEGER,          -- NULL while active; else when it was revoked
	PRIMARY KEY (account, id),
	UNIQUE (account, key)
) STRICT, WITHOUT ROWID;

-- Not tied to an account: a challenge is issued for any address.
CREATE TABLE challenges (
	value   BLOB PRIMARY KEY,
	purpose TEXT NOT NULL,
	address TEXT NOT NULL,
	key     BLOB CHECK (key IS NULL OR length(key) = 32),
	expires INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX challenges_by_expiry ON challenges (expires);

-- Token hashes only: a copy of this table cannot be replayed as a token.
CREATE TABLE sessions (
	access_hash     BLOB PRIMARY KEY,
	refresh_hash    BLOB NOT NULL UNIQUE,
	account         TEXT NOT NULL,
	device_id       TEXT NOT NULL,
	issued          INTEGER NOT NULL,
	access_expires  INTEGER NOT NULL,
	refresh_expires INTEGER NOT NULL,
	FOREIGN KEY (account, device_id) REFERENCES devices (account, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_by_device ON sessions (account, device_id);
CREATE INDEX sessions_by_expiry ON sessions (refresh_expires);
`,
	// 3: refresh tokens already used, so that a reuse ends the device's
	// sessions (docs/spec/store.md §11.2).
	`
CREATE TABLE spent_refresh (
	refresh_hash BLOB PRIMARY KEY,
	account      TEXT NOT NULL,
	device_id    TEXT NOT NULL,
	expires      INTEGER NOT NULL -- the token's own expiry; purged after it
) STRICT, WITHOUT ROWID;
CREATE INDEX spent_refresh_by_expiry ON spent_refresh (expires);
`,
	// 4: the transparency log (docs/spec/store.md §12, docs/spec/keylog.md).
	`
CREATE TABLE keylog_records (
	n      INTEGER PRIMARY KEY, -- 0, 1, … with no gap
	record BLOB NOT NULL
) STRICT;
CREATE TABLE keylog_hashes (
	i    INTEGER PRIMARY KEY,   -- tlog's stored-hash index
	hash BLOB NOT NULL
) STRICT;
`,
	// 5: deletion with a horizon (docs/spec/store.md §4.2, §4.5): when
	// each delivery was made and each tombstone deleted, and per account
	// the highest sequence number collected. Rows from before this
	// version count from the migration, so none is purged at once.
	`
ALTER TABLE deliveries ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET delivered = unixepoch() * 1000000000;
CREATE INDEX deliveries_by_time ON deliveries (delivered);
ALTER TABLE documents ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0; -- 0 unless a tombstone
UPDATE documents SET deleted_at = unixepoch() * 1000000000 WHERE deleted = 1;
CREATE INDEX documents_tombstones ON documents (deleted_at) WHERE deleted = 1;
ALTER TABLE accounts ADD COLUMN collected_seq INTEGER NOT NULL DEFAULT 0;
`,
	// 6: queued messages in a table of their own (issue 11). Enqueue
	// streams a message into its row by blob I/O, which takes a
	// zeroblob that SQLite does not materialise: one in a record's last
	// column. And SQLite rewrites a whole record, overflow pages and
	// all, through memory on any UPDATE of it: with the message in the
	// queue row, every Claim, Reschedule and Retry of a large entry
	// would copy it. queue.size keeps its length. Deleting an entry
	// deletes its message (ON DELETE CASCADE).
	`
CREATE TABLE queue_messages (
	id      INTEGER PRIMARY KEY REFERENCES queue (id) ON DELETE CASCADE,
	message BLOB NOT NULL -- the last column: see above
) STRICT;
INSERT INTO queue_messages (id, message) SELECT id, message FROM queue;
ALTER TABLE queue ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
UPDATE queue SET size = length(message);
ALTER TABLE queue DROP COLUMN message;
`,
}

// ErrSchemaTooNew is returned by Open for a database written by a newer
// version of Umbra, which this one must not touch.
var ErrSchemaTooNew = errors.New("sqlite store: database schema is newer than this program")

// migrate brings the schema up to date in one transaction.
func migrate(tx *wtx) (err error) {
	if err := tx.c.Exec(`BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			rollback(tx)
		}
	}()
	if err := tx.c.Exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var v int
	if err := tx.queryRow(`SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("read schema_version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("%w: version %d, this program knows %d", ErrSchemaTooNew, v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		if err := tx.c.Exec(migrations[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
		if _, err := tx.exec(`INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
			return fmt.Errorf("record version %d: %w", v+1, err)
		}
	}
	if err := tx.c.Exec(`COMMIT`); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
