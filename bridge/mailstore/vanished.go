package mailstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// Expunged UIDs are kept per mailbox with the mod-sequence of their
// expunge, so an IMAP client resynchronising with QRESYNC learns what
// vanished since it last looked (RFC 7162 §3.2.5, §3.2.6), also after a
// restart and also for expunges another device made (they come through
// Expunge and Move like local ones).
//
// What is kept is bounded: beyond keptVanished per mailbox the oldest are
// forgotten and the mailbox's vanished_floor rises to the newest
// forgotten mod-sequence. Every expunge after the floor is known exactly;
// for a client asking from before it, Vanished says the answer is not
// exact, and the IMAP server then reports every UID it cannot find, as
// RFC 7162 §3.2.5.2 permits (clients ignore UIDs they do not know).

// keptVanished bounds the expunged UIDs kept per mailbox.
const keptVanished = 1000

// vanishedSchema is what version 4 adds: the expunged UIDs by mailbox and
// mod-sequence (each expunge takes a mod-sequence of its own).
const vanishedSchema = `CREATE TABLE vanished (
	mailbox_id INTEGER NOT NULL,
	modseq     INTEGER NOT NULL,
	uid        INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, modseq)
) WITHOUT ROWID;
`

// migrateV4 turns a version 3 store into version 4: the vanished table,
// and each mailbox's floor at its present HIGHESTMODSEQ, since the
// expunges before the migration were not kept.
func migrateV4(c *conn) error {
	err := c.c.Exec(vanishedSchema + `
ALTER TABLE mailbox ADD COLUMN vanished_floor INTEGER NOT NULL DEFAULT 0;
UPDATE mailbox SET vanished_floor = highest_modseq;`)
	if err != nil {
		return fmt.Errorf("migrate to version 4: %w", err)
	}
	return nil
}

// noteVanished records that uid left mailbox mailboxID at mod-sequence
// modseq, and forgets the mailbox's oldest entries beyond keptVanished,
// raising its floor to the newest one forgotten.
func noteVanished(c *conn, mailboxID int64, uid uint32, modseq int64) error {
	if _, err := c.exec(`INSERT INTO vanished(mailbox_id, modseq, uid) VALUES (?, ?, ?)`, mailboxID, modseq, uid); err != nil {
		return fmt.Errorf("note expunged uid %d: %w", uid, err)
	}
	cut, err := c.int64Row(`SELECT modseq FROM vanished WHERE mailbox_id = ? ORDER BY modseq DESC LIMIT 1 OFFSET ?`,
		mailboxID, keptVanished)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err == nil {
		_, err = c.exec(`DELETE FROM vanished WHERE mailbox_id = ? AND modseq <= ?`, mailboxID, cut)
	}
	if err == nil {
		_, err = c.exec(`UPDATE mailbox SET vanished_floor = max(vanished_floor, ?) WHERE id = ?`, cut, mailboxID)
	}
	if err != nil {
		return fmt.Errorf("forget old expunged uids: %w", err)
	}
	return nil
}

// Vanished returns the UIDs expunged from mailbox mailboxID with a
// mod-sequence above since.
func (s *Store) Vanished(ctx context.Context, mailboxID int64, since uint64) (Expunged, error) {
	var out Expunged
	err := s.read(ctx, func(c *conn) error {
		err := c.queryRow(`SELECT vanished_floor, uidnext FROM mailbox WHERE id = ?`, func(st *sqlite3.Stmt) error {
			out.Exact = since >= uint64(st.ColumnInt64(0))
			out.UIDNext = uint32(st.ColumnInt64(1))
			return nil
		}, mailboxID)
		if err != nil {
			return err
		}
		return c.query(`SELECT uid FROM vanished WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, func(st *sqlite3.Stmt) error {
			out.UIDs = append(out.UIDs, uint32(st.ColumnInt64(0)))
			return nil
		}, mailboxID, int64(min(since, 1<<63-1)))
	})
	if err != nil {
		return Expunged{}, fmt.Errorf("mailstore: expunged uids of mailbox %d: %w", mailboxID, err)
	}
	return out, nil
}
