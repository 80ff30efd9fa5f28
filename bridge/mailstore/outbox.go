package mailstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Enqueue puts a message in the outbox, to send now (Queued and NextTry
// are set to the current time; ID, Attempts and LastError are ignored),
// and returns its id. Recipients are envelope addresses: non-empty,
// without line breaks or NUL.
func (s *Store) Enqueue(ctx context.Context, o Outgoing) (int64, error) {
	if err := checkOutgoing(o); err != nil {
		return 0, err
	}
	var id int64
	err := s.write(ctx, func(c *conn) (_ []Event, err error) {
		id, err = enqueue(c, o)
		return nil, err
	})
	if err != nil {
		return 0, fmt.Errorf("mailstore: enqueue: %w", err)
	}
	return id, nil
}

func checkOutgoing(o Outgoing) error {
	if len(o.Recipients) == 0 || len(o.MIME) == 0 || len(o.MIME) > MaxMessageSize {
		return fmt.Errorf("%w: outgoing message needs recipients and 1 to %d bytes of MIME", ErrInvalid, MaxMessageSize)
	}
	for _, r := range append([]string{o.From}, o.Recipients...) {
		if r == "" || strings.ContainsAny(r, "\r\n\x00") {
			return fmt.Errorf("%w: envelope address %q", ErrInvalid, r)
		}
	}
	return nil
}

func enqueue(c *conn, o Outgoing) (int64, error) {
	now := time.Now().UnixNano()
	return c.int64Row(`INSERT INTO outbox(sender, recipients, mime, queued, next_try) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		o.From, strings.Join(o.Recipients, "\n"), o.MIME, now, now)
}

// Outbox lists the outbox in queue order.
func (s *Store) Outbox(ctx context.Context) ([]Outgoing, error) {
	var out []Outgoing
	err := s.read(ctx, func(c *conn) error {
		return c.query(`SELECT id, sender, recipients, mime, queued, attempts, last_error, next_try FROM outbox ORDER BY id`,
			func(st *sqlite3.Stmt) error {
				out = append(out, Outgoing{
					ID: st.ColumnInt64(0), From: st.ColumnText(1), Recipients: strings.Split(st.ColumnText(2), "\n"),
					MIME: st.ColumnBlob(3, nil), Queued: time.Unix(0, st.ColumnInt64(4)), Attempts: st.ColumnInt(5),
					LastError: st.ColumnText(6), NextTry: time.Unix(0, st.ColumnInt64(7)),
				})
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: outbox: %w", err)
	}
	return out, nil
}

// OutboxSent records that the entry was sent to rcpt: rcpt leaves its
// recipients, and the entry leaves the outbox with the last one.
func (s *Store) OutboxSent(ctx context.Context, id int64, rcpt string) error {
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		var rcpts []string
		err := c.queryRow(`SELECT recipients FROM outbox WHERE id = ?`, func(st *sqlite3.Stmt) error {
			rcpts = strings.Split(st.ColumnText(0), "\n")
			return nil
		}, id)
		if err != nil {
			return nil, err
		}
		i := slices.Index(rcpts, rcpt)
		if i < 0 {
			return nil, fmt.Errorf("%w: recipient %q", ErrNotFound, rcpt)
		}
		if rcpts = slices.Delete(rcpts, i, i+1); len(rcpts) == 0 {
			_, err = c.exec(`DELETE FROM outbox WHERE id = ?`, id)
		} else {
			_, err = c.exec(`UPDATE outbox SET recipients = ? WHERE id = ?`, strings.Join(rcpts, "\n"), id)
		}
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("mailstore: outbox %d sent to %q: %w", id, rcpt, err)
	}
	return nil
}

// OutboxFailed records a failed attempt: its error, one more attempt, and
// when to try next.
func (s *Store) OutboxFailed(ctx context.Context, id int64, lastError string, nextTry time.Time) error {
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		_, err := c.int64Row(`UPDATE outbox SET last_error = ?, attempts = attempts + 1, next_try = ? WHERE id = ? RETURNING id`,
			lastError, nextTry.UnixNano(), id)
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("mailstore: outbox %d failed: %w", id, err)
	}
	return nil
}

// OutboxDrop removes an entry from the outbox.
func (s *Store) OutboxDrop(ctx context.Context, id int64) error {
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		_, err := c.int64Row(`DELETE FROM outbox WHERE id = ? RETURNING id`, id)
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("mailstore: drop outbox %d: %w", id, err)
	}
	return nil
}
