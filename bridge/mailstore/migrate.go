package mailstore

import (
	"bytes"
	"fmt"

	"github.com/emersion/go-message"
	"github.com/ncruces/go-sqlite3"
)

// migrateV2 turns a version 1 store into version 2, in the migration's
// transaction:
//   - subscriptions move from mailbox.subscribed (where CREATE subscribed
//     and DELETE unsubscribed) to the subscription table;
//   - body text moves from the word index search_body to body_text (body
//     search is by substring now);
//   - sender and rcpt are indexed again with their parsed addresses
//     (addressText);
//   - mod-sequences start, every message and mailbox at 1.
func migrateV2(c *conn) error {
	err := c.c.Exec(`
CREATE TABLE subscription (name TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO subscription(name) SELECT name FROM mailbox WHERE subscribed;
ALTER TABLE mailbox DROP COLUMN subscribed;
CREATE TABLE body_text (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO body_text(id, body) SELECT rowid, body FROM search_body;
DROP TABLE search_body;
ALTER TABLE mailbox ADD COLUMN highest_modseq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE message ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;
INSERT INTO counter(name, value) VALUES ('modseq', 1);`)
	if err != nil {
		return fmt.Errorf("migrate to version 2: %w", err)
	}
	type row struct {
		id       int64
		from, to string
	}
	var rows []row
	err = c.query(`SELECT id, header FROM content`, func(st *sqlite3.Stmt) error {
		// The header section keeps its closing blank line, if it had one;
		// one more ends a header that had none.
		h := append(st.ColumnBlob(1, nil), "\r\n\r\n"...)
		e, _ := message.Read(bytes.NewReader(h))
		if e == nil {
			return nil // no header: nothing to find by address
		}
		r := row{id: st.ColumnInt64(0)}
		r.from, r.to = addressText(e.Header)
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate to version 2: read headers: %w", err)
	}
	for _, r := range rows {
		if _, err := c.exec(`UPDATE search SET sender = ?, rcpt = ? WHERE rowid = ?`, r.from, r.to, r.id); err != nil {
			return fmt.Errorf("migrate to version 2: index content %d: %w", r.id, err)
		}
	}
	return c.c.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
}
