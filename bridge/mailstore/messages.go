package mailstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// MaxMessageSize bounds the MIME of one message: DMAP's and submission's
// 64 MiB (bridge.MaxMessage) plus room for the headers the bridge adds.
const MaxMessageSize = 64<<20 + 1<<20

// maxKeyLen bounds a message key in bytes.
const maxKeyLen = 1024

// messageColumns and scanMessage read a Message; the query joins the
// message (m) to its mailbox (b).
const messageColumns = `m.id, m.key, m.mailbox_id, b.name, m.uid, m.flags, m.internal_date, m.size,
	m.content_id, m.synced_flags, m.synced_mailbox, m.modseq`

func scanMessage(s *sqlite3.Stmt) Message {
	m := Message{
		ID:            s.ColumnInt64(0),
		Key:           s.ColumnText(1),
		MailboxID:     s.ColumnInt64(2),
		Mailbox:       s.ColumnText(3),
		UID:           uint32(s.ColumnInt64(4)),
		Flags:         splitFlags(s.ColumnText(5)),
		InternalDate:  time.Unix(0, s.ColumnInt64(6)),
		Size:          s.ColumnInt64(7),
		ContentID:     s.ColumnInt64(8),
		SyncedMailbox: s.ColumnText(10),
		ModSeq:        uint64(s.ColumnInt64(11)),
	}
	if s.ColumnType(9) != sqlite3.NULL {
		// Synced, possibly with no flags: empty but not nil.
		m.SyncedFlags = append([]string{}, splitFlags(s.ColumnText(9))...)
	}
	return m
}

// messageBy reads one live message (not a tombstone) by a condition on m.
func messageBy(c *conn, where string, arg any) (Message, error) {
	var m Message
	err := c.queryRow(`SELECT `+messageColumns+` FROM message m JOIN mailbox b ON b.id = m.mailbox_id WHERE `+where,
		func(s *sqlite3.Stmt) error {
			m = scanMessage(s)
			return nil
		}, arg)
	return m, err
}

// Add adds a message, or returns the one with the same Key (created
// false, no event): the sync engine may apply a document twice. A key
// whose message was expunged locally and is not yet pushed stays deleted
// (the deletion wins, docs/spec/sync.md): Add returns created false and
// a Message with only ID and Key set. The content is stored once per
// distinct bytes and indexed for Search; MIME that does not parse is
// stored all the same and indexed as far as it goes.
//
// Local marks the message pending; Remote makes its mailbox and flags the
// agreed state (SyncedMailbox, SyncedFlags).
func (s *Store) Add(ctx context.Context, nm NewMessage, origin Origin) (Message, bool, error) {
	m, created, err := s.add(ctx, nm, origin)
	if err != nil {
		return Message{}, false, fmt.Errorf("mailstore: add %q: %w", nm.Key, err)
	}
	return m, created, nil
}

func (s *Store) add(ctx context.Context, nm NewMessage, origin Origin) (Message, bool, error) {
	p, err := prepareAdd(nm)
	if err != nil {
		return Message{}, false, err
	}
	var m Message
	created := false
	err = s.write(ctx, func(c *conn) ([]Event, error) {
		var ev []Event
		m, created, ev, err = p.apply(c, origin)
		return ev, err
	})
	return m, created, err
}

// preparedAdd is a message checked, hashed, split and parsed for the
// index: the costly part of Add, done before taking the write lock.
type preparedAdd struct {
	nm           NewMessage
	mailbox      string
	flags        []string
	date         time.Time
	sum          [32]byte
	header, body []byte
	text         indexText
}

func prepareAdd(nm NewMessage) (*preparedAdd, error) {
	if nm.Key == "" || len(nm.Key) > maxKeyLen {
		return nil, fmt.Errorf("%w: key of %d bytes (1 to %d)", ErrInvalid, len(nm.Key), maxKeyLen)
	}
	if len(nm.MIME) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes (at most %d)", ErrInvalid, len(nm.MIME), MaxMessageSize)
	}
	mailbox, err := canonicalName(nm.Mailbox)
	if err != nil {
		return nil, err
	}
	flags, err := canonicalFlags(nm.Flags)
	if err != nil {
		return nil, err
	}
	p := &preparedAdd{nm: nm, mailbox: mailbox, flags: flags, date: nm.InternalDate}
	if p.date.IsZero() {
		p.date = time.Now()
	}
	p.sum = sha256.Sum256(nm.MIME)
	p.header, p.body = splitHeader(nm.MIME)
	p.text = extractText(nm.MIME)
	return p, nil
}

// apply inserts the prepared message inside a write transaction.
func (p *preparedAdd) apply(c *conn, origin Origin) (Message, bool, []Event, error) {
	existing, err := c.int64Row(`SELECT id FROM message WHERE key = ?`, p.nm.Key)
	if err == nil {
		m, err := messageBy(c, `m.id = ?`, existing)
		if errors.Is(err, ErrNotFound) {
			m, err = Message{ID: existing, Key: p.nm.Key}, nil // a tombstone
		}
		return m, false, nil, err
	} else if !errors.Is(err, ErrNotFound) {
		return Message{}, false, nil, err
	}
	box, err := mailboxRef(c, p.mailbox)
	if err != nil {
		return Message{}, false, nil, fmt.Errorf("mailbox %q: %w", p.mailbox, err)
	}
	contentID, err := putContent(c, p.sum[:], p.header, p.body, p.text)
	if err != nil {
		return Message{}, false, nil, err
	}
	ev, id, err := insertMessage(c, newRow{
		key: p.nm.Key, mailbox: box, contentID: contentID, flags: p.flags,
		date: p.date.UnixNano(), size: int64(len(p.nm.MIME)),
	}, origin)
	if err != nil {
		return Message{}, false, nil, err
	}
	m, err := messageBy(c, `m.id = ?`, id)
	return m, true, []Event{ev}, err
}

// splitHeader splits a message after the blank line that ends its header
// section (RFC 5322 §2.1); without one, all of it is header.
func splitHeader(mime []byte) (header, body []byte) {
	crlf := bytes.Index(mime, []byte("\r\n\r\n"))
	lf := bytes.Index(mime, []byte("\n\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf < lf):
		return mime[:crlf+4], mime[crlf+4:]
	case lf >= 0:
		return mime[:lf+2], mime[lf+2:]
	}
	return mime, nil
}

// putContent stores the content unless bytes with the same SHA-256 are
// stored already, and indexes new content; it returns the content's id.
func putContent(c *conn, sum, header, body []byte, text indexText) (int64, error) {
	id, err := c.int64Row(`SELECT id FROM content WHERE sha256 = ?`, sum)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return id, err
	}
	id, err = c.int64Row(`INSERT INTO content(sha256, header, body) VALUES (?, ?, ?) RETURNING id`, sum, header, body)
	if err != nil {
		return 0, err
	}
	return id, queueIndex(c, id, text)
}

// newRow is a message row to insert.
type newRow struct {
	key       string
	mailbox   Mailbox
	contentID int64
	flags     []string
	date      int64 // Unix nanoseconds
	size      int64
}

// insertMessage inserts a message at the mailbox's UIDNEXT and advances
// it; Local marks it pending, Remote records it as agreed.
func insertMessage(c *conn, r newRow, origin Origin) (Event, int64, error) {
	uid, err := takeUID(c, r.mailbox.ID)
	if err != nil {
		return Event{}, 0, err
	}
	var change int64
	var syncedFlags, syncedMailbox any
	if origin == Local {
		if change, err = next(c, "change"); err != nil {
			return Event{}, 0, err
		}
	} else {
		syncedFlags, syncedMailbox = joinFlags(r.flags), r.mailbox.Name
	}
	modseq, err := nextModSeq(c, r.mailbox.ID)
	if err != nil {
		return Event{}, 0, err
	}
	id, err := c.int64Row(`INSERT INTO message(key, mailbox_id, uid, content_id, flags, internal_date, size,
			synced_flags, synced_mailbox, change, modseq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.key, r.mailbox.ID, uid, r.contentID, joinFlags(r.flags), r.date, r.size, syncedFlags, syncedMailbox, change, modseq)
	if err != nil {
		return Event{}, 0, err
	}
	return Event{Kind: MessageAdded, MailboxID: r.mailbox.ID, UID: uid, Flags: r.flags, ModSeq: uint64(modseq), Origin: origin}, id, nil
}

// takeUID returns the mailbox's UIDNEXT and advances it: UIDs are never
// reused in a mailbox (RFC 9051 §2.3.1.1).
func takeUID(c *conn, mailboxID int64) (uint32, error) {
	uid, err := c.int64Row(`UPDATE mailbox SET uidnext = uidnext + 1 WHERE id = ? RETURNING uidnext - 1`, mailboxID)
	if err != nil {
		return 0, err
	}
	if uid >= 1<<32-1 {
		return 0, fmt.Errorf("%w: the mailbox has run out of UIDs", ErrInvalid)
	}
	return uint32(uid), nil
}

// List returns the messages of a mailbox in UID order: one query for
// them all, after one for the mailbox's name.
func (s *Store) List(ctx context.Context, mailboxID int64) ([]Message, error) {
	var out []Message
	err := s.read(ctx, func(c *conn) error {
		var name string
		err := c.queryRow(`SELECT name FROM mailbox WHERE id = ?`, func(st *sqlite3.Stmt) error {
			name = st.ColumnText(0)
			return nil
		}, mailboxID)
		if err != nil {
			return err
		}
		// NULL in place of the joined name: scanMessage serves here too, and
		// the name read above is shared by every message.
		return c.query(`SELECT `+strings.Replace(messageColumns, "b.name", "NULL", 1)+` FROM message m
				WHERE m.mailbox_id = ? ORDER BY m.uid`,
			func(st *sqlite3.Stmt) error {
				m := scanMessage(st)
				m.Mailbox = name
				out = append(out, m)
				return nil
			}, mailboxID)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: list mailbox %d: %w", mailboxID, err)
	}
	return out, nil
}

// Get returns the message with the local id. A message expunged (even if
// still pending as a tombstone) is ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Message, error) {
	var m Message
	err := s.read(ctx, func(c *conn) (err error) {
		m, err = messageBy(c, `m.id = ?`, id)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("mailstore: message %d: %w", id, err)
	}
	return m, nil
}

// ByKey returns the message with the sync key, as Get.
func (s *Store) ByKey(ctx context.Context, key string) (Message, error) {
	var m Message
	err := s.read(ctx, func(c *conn) (err error) {
		m, err = messageBy(c, `m.key = ?`, key)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("mailstore: message %q: %w", key, err)
	}
	return m, nil
}

// Content returns the stored MIME, exactly the bytes given to Add.
func (s *Store) Content(ctx context.Context, contentID int64) ([]byte, error) {
	var out []byte
	err := s.read(ctx, func(c *conn) error {
		return c.queryRow(`SELECT header, body FROM content WHERE id = ?`, func(st *sqlite3.Stmt) error {
			out = st.ColumnBlob(1, st.ColumnBlob(0, []byte{}))
			return nil
		}, contentID)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: content %d: %w", contentID, err)
	}
	return out, nil
}

// Header returns the header section, through the blank line that ends it
// (IMAP BODY[HEADER], RFC 9051 §6.4.5), without reading the body: the
// body is a later column, whose overflow pages SQLite does not load.
func (s *Store) Header(ctx context.Context, contentID int64) ([]byte, error) {
	var out []byte
	err := s.read(ctx, func(c *conn) error {
		return c.queryRow(`SELECT header FROM content WHERE id = ?`, func(st *sqlite3.Stmt) error {
			out = st.ColumnBlob(0, []byte{})
			return nil
		}, contentID)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: header %d: %w", contentID, err)
	}
	return out, nil
}

// nextModSeq takes the next mod-sequence for a change in mailbox
// mailboxID and makes it the mailbox's HIGHESTMODSEQ (RFC 7162 §3.1).
func nextModSeq(c *conn, mailboxID int64) (int64, error) {
	v, err := next(c, "modseq")
	if err != nil {
		return 0, err
	}
	_, err = c.exec(`UPDATE mailbox SET highest_modseq = ? WHERE id = ?`, v, mailboxID)
	return v, err
}
