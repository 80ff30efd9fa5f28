-- A database exactly as schema version 1 of the SQLite store wrote it
-- (provider/store/docs/spec/store.md §8): the DDL of migration 1, its schema_version
-- row, and a little data in the on-disk encodings (times in nanoseconds
-- since the Unix epoch, hashes, fingerprints and message ids as raw BLOBs).
-- TestSchemaV1Vector loads it, opens it with the current code and reads it
-- back through the store interface. It is frozen: never edit it; a new
-- schema version gets a new vector.
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

-- alice: active, cautious, with a key backup; her change sequence is at 4.
INSERT INTO accounts VALUES ('alice@example.test', 'active', NULL, 'cautious', 1893456000000000000, X'6B6579', 4);
-- bob: invited with the code "bob-invite" (SHA-256 below).
INSERT INTO accounts VALUES ('bob@example.test', 'invited', X'BD61896512D71D1FBF9D3F524F837EBF2B88654C4C7E642826C3B1BDC0AD405D', '', 1893456000000000001, NULL, 0);
INSERT INTO accounts VALUES ('carol@example.test', 'disabled', NULL, 'paranoid', 1893456000000000002, NULL, 0);

-- alice's chain: SHA-256("signet-1"), SHA-256("signet-2").
INSERT INTO signets VALUES ('alice@example.test', 1, X'05327D2B886D996BF45BD34B7978FBC7E70FA343C77B6C9930D78EA9762323F8', CAST('signet-1' AS BLOB), 1893456000000000003);
INSERT INTO signets VALUES ('alice@example.test', 2, X'017393C0A4CB1C9371B71872CB16CC5C27F9F5E3DD880FBADA429556ACF2CC5D', CAST('signet-2' AS BLOB), 1893456000000000004);

-- Seq 1: a delivered mail; seq 2 was prefs revision 1, replaced by revision 2
-- at seq 3; seq 4 deleted "old" (revision 2, a tombstone).
INSERT INTO documents VALUES ('alice@example.test', 'in-1', 'mail', 1, 1, 0, CAST('hello' AS BLOB));
INSERT INTO documents VALUES ('alice@example.test', 'prefs', 'settings', 2, 3, 0, CAST('p2' AS BLOB));
INSERT INTO documents VALUES ('alice@example.test', 'old', 'note', 2, 4, 1, X'');
INSERT INTO deliveries VALUES ('alice@example.test', X'0101010101010101010101010101010101010101010101010101010101010101', 'in-1');

-- Queue entry 7, attempted once, due again at T+1h.
INSERT INTO queue VALUES (7, X'0202020202020202020202020202020202020202020202020202020202020202', 'example.org', CAST('message' AS BLOB), NULL, 1893456000000000005, 1, 1893459600000000000, '451 4.3.0 later', '', 0);

INSERT INTO remote_signets VALUES ('example.org', CAST('org signet' AS BLOB), 1893456000000000000, 1893542400000000000);
COMMIT;
