-- A database exactly as schema version 2 of the SQLite store wrote it
-- (docs/spec/store.md §8): the DDL of migrations 1 and 2, their
-- schema_version rows, and rows of the version-2 tables in their on-disk
-- encodings (times in nanoseconds since the Unix epoch, NULL revoked = an
-- active device, keys and token hashes as raw 32-byte BLOBs, NULL
-- challenge key = none). TestSchemaV2Vector loads it, opens it with the
-- current code and reads it back through the store interface. It is
-- frozen: never edit it; a new schema version gets a new vector.
BEGIN;
CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;
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
INSERT INTO schema_version (version) VALUES (1);
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
INSERT INTO schema_version (version) VALUES (2);

-- alice: active; bob: disabled. T = 1893456000000000000 (2030-01-01T00:00:00Z).
INSERT INTO accounts VALUES ('alice@example.test', 'active', NULL, 'cautious', 1893456000000000000, NULL, 0);
INSERT INTO accounts VALUES ('bob@example.test', 'disabled', NULL, 'paranoid', 1893456000000000000, NULL, 0);

-- alice's phone: key 0x11…, created T+1 ns, last seen T+1 h, active.
INSERT INTO devices VALUES ('alice@example.test', 'phone-id', X'1111111111111111111111111111111111111111111111111111111111111111', 'Phone', 1893456000000000001, 1893459600000000000, NULL);
-- alice's laptop: key 0x22…, never seen, revoked at T+2 h.
INSERT INTO devices VALUES ('alice@example.test', 'laptop-id', X'2222222222222222222222222222222222222222222222222222222222222222', 'Laptop', 1893456000000000002, 0, 1893463200000000000);
-- bob's phone: the same key as alice's phone, in a disabled account.
INSERT INTO devices VALUES ('bob@example.test', 'phone-id', X'1111111111111111111111111111111111111111111111111111111111111111', 'Bob', 1893456000000000003, 0, NULL);

-- A login challenge for alice's phone and a key-backup challenge without
-- a key, both expiring at T+5 min.
INSERT INTO challenges VALUES (X'C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1', 'login', 'alice@example.test', X'1111111111111111111111111111111111111111111111111111111111111111', 1893456300000000000);
INSERT INTO challenges VALUES (X'C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2C2', 'key-backup', 'carol@example.test', NULL, 1893456300000000000);

-- Sessions issued at T: access hash 0xA?…, expires T+1 h; refresh hash
-- 0xB?…, expires T+30 d. Only the phone's is live: the laptop is revoked
-- (a row an implementation may have left behind) and bob is disabled.
INSERT INTO sessions VALUES (X'A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1', X'B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1', 'alice@example.test', 'phone-id', 1893456000000000000, 1893459600000000000, 1896048000000000000);
INSERT INTO sessions VALUES (X'A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2', X'B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2', 'alice@example.test', 'laptop-id', 1893456000000000000, 1893459600000000000, 1896048000000000000);
INSERT INTO sessions VALUES (X'A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3A3', X'B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3B3', 'bob@example.test', 'phone-id', 1893456000000000000, 1893459600000000000, 1896048000000000000);
COMMIT;
