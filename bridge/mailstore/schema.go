package mailstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// schemaVersion is the schema this code writes, kept in PRAGMA
// user_version; applicationID (PRAGMA application_id, "Umbr") marks the
// file as a mailstore (https://sqlite.org/pragma.html#pragma_application_id).
const (
	schemaVersion = 4
	applicationID = 0x556d6272
)

// schema is version 4 (migrateV2, migrateV3 and migrateV4 make it of
// versions 1 to 3). Notes:
//   - AUTOINCREMENT on mailbox, message and content: ids are never reused,
//     so an IMAP session holding an old id can never reach another row.
//   - A message with mailbox_id NULL is a tombstone: expunged locally and
//     kept until pushed (Pending, Pushed).
//   - change > pushed marks a message pending; change values come from the
//     store-wide counter "change", so a Pushed for an old incarnation of a
//     key can never clear a newer one.
//   - content keeps the header section apart from the body so that Header
//     reads no body pages; search is keyed by content id.
//   - search indexes the header fields with the trigram tokenizer:
//     substring matching, case folded
//     (https://sqlite.org/fts5.html#the_trigram_tokenizer), as IMAP
//     SEARCH wants (RFC 9051 §6.4.4). sender and rcpt hold the decoded
//     field and its addresses re-written as "Name <addr>", so an address
//     with comments is found by its name and its bare address. What goes
//     in is mailtext.Analyze's reading of the message (extractText).
//   - body_text holds the decoded text of every part (HTML as text) and
//     the attachment names, and the rest of the analysis that umbra
//     search confirms candidates on (storedDoc). content_info has the
//     Date field (sent, Unix seconds, and sent_day, its calendar date in
//     its own zone) and whether the message has an attachment: apart, so
//     that selecting and sorting candidates reads no text. body_search indexes the text
//     by trigrams too, contentless (the text is in body_text) and with
//     detail=none: no positions, so a third of the cost and size of a
//     full trigram index; a search looks up the trigrams of its text for
//     candidates and confirms each by matching the text (Search, Query).
//   - modseq is the message's mod-sequence and mailbox.highest_modseq its
//     mailbox's HIGHESTMODSEQ (RFC 7162 CONDSTORE): both take the next
//     value of the store-wide counter "modseq" at every change of a
//     message (added, flags changed, moved in) and the mailbox's at every
//     message leaving it, whoever made the change (an IMAP client or the
//     sync engine), so they only grow and survive restarts.
//   - vanished holds the UIDs expunged from each mailbox with the
//     mod-sequence of their expunge, the newest keptVanished of each;
//     mailbox.vanished_floor is the mod-sequence after which every
//     expunge is still there (QRESYNC, RFC 7162 §3.2; vanished.go).
//   - subscription is the list of subscribed names, apart from the
//     mailboxes: a name may be subscribed without a mailbox, and CREATE,
//     DELETE and RENAME leave it alone (RFC 3501 §6.3.6, RFC 9051 §6.3.7).
const schema = `
CREATE TABLE counter (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE mailbox (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	name        TEXT NOT NULL UNIQUE,
	special_use TEXT NOT NULL DEFAULT '',
	uidvalidity INTEGER NOT NULL,
	uidnext     INTEGER NOT NULL DEFAULT 1,
	highest_modseq INTEGER NOT NULL DEFAULT 1,
	vanished_floor INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE subscription (
	name TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE mailbox_pending (
	name    TEXT PRIMARY KEY,
	deleted INTEGER NOT NULL,
	change  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE content (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	sha256 BLOB NOT NULL UNIQUE,
	header BLOB NOT NULL,
	body   BLOB NOT NULL
);

CREATE TABLE message (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	key            TEXT NOT NULL UNIQUE,
	mailbox_id     INTEGER REFERENCES mailbox(id),
	uid            INTEGER,
	content_id     INTEGER REFERENCES content(id),
	flags          TEXT NOT NULL DEFAULT '',
	internal_date  INTEGER NOT NULL,
	size           INTEGER NOT NULL,
	synced_flags   TEXT,
	synced_mailbox TEXT,
	change         INTEGER NOT NULL DEFAULT 0,
	pushed         INTEGER NOT NULL DEFAULT 0,
	modseq         INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX message_uid ON message(mailbox_id, uid) WHERE mailbox_id IS NOT NULL;
CREATE INDEX message_content ON message(content_id) WHERE content_id IS NOT NULL;
CREATE INDEX message_pending ON message(change) WHERE change > pushed;

CREATE VIRTUAL TABLE search USING fts5(subject, sender, rcpt, hdr, tokenize = 'trigram');
CREATE TABLE body_text (
	id   INTEGER PRIMARY KEY, -- content.id
	body TEXT NOT NULL,
	doc  BLOB -- storedDoc, JSON
);
` + contentInfoSchema + `
` + bodySearchSchema + `
` + vanishedSchema + `
CREATE TABLE doc (
	id       TEXT PRIMARY KEY,
	kind     TEXT NOT NULL,
	revision INTEGER NOT NULL,
	key      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX doc_key ON doc(key);

CREATE TABLE outbox (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	sender     TEXT NOT NULL,
	recipients TEXT NOT NULL,
	mime       BLOB NOT NULL,
	queued     INTEGER NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	next_try   INTEGER NOT NULL
);

CREATE TABLE state (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
`

// defaultMailboxes are created with every store (RFC 6154 special use).
var defaultMailboxes = []struct{ name, use string }{
	{Inbox, ""},
	{"Sent", Sent},
	{"Drafts", Drafts},
	{"Trash", Trash},
	{"Junk", Junk},
	{"Archive", Archive},
}

// migrate creates the schema in a new database and checks an existing
// one is a mailstore of a version this code knows.
func migrate(c *conn) error {
	return c.tx(context.Background(), true, func() error {
		version, err := c.int64Row("PRAGMA user_version")
		if err != nil {
			return err
		}
		app, err := c.int64Row("PRAGMA application_id")
		if err != nil {
			return err
		}
		objects, err := c.int64Row("SELECT count(*) FROM sqlite_schema")
		if err != nil {
			return err
		}
		switch {
		case version == 0 && app == 0 && objects == 0:
			return create(c)
		case app != applicationID:
			return errors.New("wrong key or not a mailstore")
		case version == schemaVersion:
			return nil
		case version < 1 || version > schemaVersion:
			return fmt.Errorf("schema version %d unknown to this program (it knows %d)", version, schemaVersion)
		}
		// Each step turns version n into n+1, in this transaction.
		for _, step := range []func(*conn) error{migrateV2, migrateV3, migrateV4}[version-1:] {
			if err := step(c); err != nil {
				return err
			}
		}
		return c.c.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
	})
}

func create(c *conn) error {
	if err := c.c.Exec(schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	// UIDVALIDITY values come from a counter seeded with the creation
	// time, as RFC 9051 §2.3.1.1 suggests, so a mailbox deleted and
	// created again never gets the value of its predecessor.
	if _, err := c.exec(`INSERT INTO counter(name, value) VALUES ('uidvalidity', ?), ('change', 0), ('cursor', 0), ('modseq', 1)`,
		max(time.Now().Unix()&0xffffffff, 1)); err != nil {
		return err
	}
	for _, m := range defaultMailboxes {
		if _, err := insertMailbox(c, m.name, m.use); err != nil {
			return err
		}
		if err := subscribe(c, m.name, true); err != nil {
			return err
		}
	}
	return c.c.Exec(fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d;", schemaVersion, applicationID))
}

// next returns the counter's next value.
func next(c *conn, counter string) (int64, error) {
	return c.int64Row(`UPDATE counter SET value = value + 1 WHERE name = ? RETURNING value`, counter)
}
