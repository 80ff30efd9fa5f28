package mailstore

import (
	"fmt"
	"log/slog"

	"github.com/ncruces/go-sqlite3"
)

// migrateV2 turns a version 1 store into version 2, in the migration's
// transaction:
//   - subscriptions move from mailbox.subscribed (where CREATE subscribed
//     and DELETE unsubscribed) to the subscription table;
//   - body text moves from the word index search_body to body_text (body
//     search is by substring now);
//   - mod-sequences start, every message and mailbox at 1.
//
// migrateV3 follows, which indexes every message again.
func migrateV2(c *conn) error {
	err := c.c.Exec(`
CREATE TABLE subscription (name TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO subscription(name) SELECT name FROM mailbox WHERE subscribed;
ALTER TABLE mailbox DROP COLUMN subscribed;
CREATE TABLE body_text (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
DROP TABLE search_body;
ALTER TABLE mailbox ADD COLUMN highest_modseq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE message ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;
INSERT INTO counter(name, value) VALUES ('modseq', 1);`)
	if err != nil {
		return fmt.Errorf("migrate to version 2: %w", err)
	}
	return nil
}

// contentInfoSchema and bodySearchSchema are what version 3 adds (schema
// notes): the facts of a content umbra search selects by, and the trigram
// index of body_text.
const contentInfoSchema = `CREATE TABLE content_info (
	id       INTEGER PRIMARY KEY, -- content.id
	sent     INTEGER,
	sent_day TEXT,
	attach   INTEGER NOT NULL
);
CREATE INDEX content_info_sent ON content_info(sent);
`

const bodySearchSchema = `CREATE VIRTUAL TABLE body_search USING fts5(body, content = '', contentless_delete = 1,
	tokenize = 'trigram', detail = none);`

// reindexBatch is how many messages migrateV3 analyses between flushes
// of the index queue, and reindexLog how many between progress lines.
const (
	reindexBatch = 256
	reindexLog   = 10000
)

// migrateV3 turns a version 2 store into version 3, in the migration's
// transaction: body_text gains the analysis column, content_info the
// Date and attachment facts, and body_search indexes body_text, and every stored message is indexed again from
// mailtext.Analyze (extractText), whose reading of headers, charsets and
// HTML is better than version 2's. A big store takes a while (about as
// long as adding its mail did): progress goes to the default logger.
func migrateV3(c *conn) error {
	err := c.c.Exec(`
ALTER TABLE body_text ADD COLUMN doc BLOB;
DELETE FROM body_text;
DELETE FROM search;
` + contentInfoSchema + bodySearchSchema)
	if err != nil {
		return fmt.Errorf("migrate to version 3: %w", err)
	}
	total, err := c.int64Row(`SELECT count(*) FROM content`)
	if err != nil {
		return fmt.Errorf("migrate to version 3: %w", err)
	}
	if total >= reindexLog {
		slog.Info("mailstore: indexing every message again for schema version 3", "messages", total)
	}
	var last, done int64
	for {
		var raws [][]byte
		var ids []int64
		err := c.query(`SELECT id, header, body FROM content WHERE id > ? ORDER BY id LIMIT ?`, func(st *sqlite3.Stmt) error {
			ids = append(ids, st.ColumnInt64(0))
			raws = append(raws, append(st.ColumnBlob(1, nil), st.ColumnRawBlob(2)...))
			return nil
		}, last, reindexBatch)
		if err != nil {
			return fmt.Errorf("migrate to version 3: read messages: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		for i, id := range ids {
			if err := queueIndex(c, id, extractText(raws[i])); err != nil {
				return fmt.Errorf("migrate to version 3: %w", err)
			}
		}
		if err := flushIndex(c); err != nil {
			return fmt.Errorf("migrate to version 3: %w", err)
		}
		last, done = ids[len(ids)-1], done+int64(len(ids))
		if total >= reindexLog && done/reindexLog != (done-int64(len(ids)))/reindexLog {
			slog.Info("mailstore: indexing", "done", done, "of", total)
		}
	}
	return nil
}
