package mailstore

import (
	"context"
	"fmt"
)

// Batch collects writes of the sync engine that commit together: one
// transaction and one durable commit for many messages, where separate
// calls would cost an fsync each. The costly preparation of each Add
// (hashing, splitting, parsing for the index) happens when it is queued,
// outside the write lock. A Batch is used by one goroutine.
type Batch struct {
	ops  []func(c *conn) ([]Event, error)
	size int
	adds int
}

// Add queues NewMessage as Store.Add would add it.
func (b *Batch) Add(nm NewMessage, origin Origin) error {
	p, err := b.prepare(nm)
	if err != nil {
		return err
	}
	b.ops = append(b.ops, func(c *conn) ([]Event, error) { return p.applyIn(c, origin) })
	return nil
}

// prepare prepares nm for an Add queued in b, counting it.
func (b *Batch) prepare(nm NewMessage) (*preparedAdd, error) {
	p, err := prepareAdd(nm)
	if err != nil {
		return nil, fmt.Errorf("mailstore: add %q: %w", nm.Key, err)
	}
	b.size += len(nm.MIME)
	b.adds++
	return p, nil
}

// applyIn applies p as a batch's write.
func (p *preparedAdd) applyIn(c *conn, origin Origin) ([]Event, error) {
	_, _, ev, err := p.apply(c, origin)
	if err != nil {
		err = fmt.Errorf("add %q: %w", p.nm.Key, err)
	}
	return ev, err
}

// PutDoc queues Store.PutDoc.
func (b *Batch) PutDoc(d Doc) error {
	if d.ID == "" {
		return fmt.Errorf("%w: document without id", ErrInvalid)
	}
	b.ops = append(b.ops, func(c *conn) ([]Event, error) { return nil, putDoc(c, d) })
	return nil
}

// Enqueue queues Store.Enqueue: with an Add of the Sent copy in the same
// batch, a submission is kept whole or not at all.
func (b *Batch) Enqueue(o Outgoing) error {
	if err := checkOutgoing(o); err != nil {
		return err
	}
	b.ops = append(b.ops, func(c *conn) ([]Event, error) {
		_, err := enqueue(c, o)
		return nil, err
	})
	return nil
}

// Pushed queues Store.Pushed.
func (b *Batch) Pushed(key string, change int64) {
	b.ops = append(b.ops, func(c *conn) ([]Event, error) { return nil, pushed(c, key, change) })
}

// SetCursor queues Store.SetCursor: the feed position commits with the
// documents applied up to it.
func (b *Batch) SetCursor(since int64) {
	b.ops = append(b.ops, func(c *conn) ([]Event, error) { return nil, setCursor(c, since) })
}

// Len is the number of queued writes, Size the bytes of queued messages,
// Adds the number of queued Adds.
func (b *Batch) Len() int  { return len(b.ops) }
func (b *Batch) Size() int { return b.size }
func (b *Batch) Adds() int { return b.adds }

// Commit runs the queued writes in one transaction: all or none. The
// events go to the subscribers after it, in order. The batch is empty
// afterwards, whatever the outcome.
func (s *Store) Commit(ctx context.Context, b *Batch) error {
	ops := b.ops
	b.ops, b.size, b.adds = nil, 0, 0
	if len(ops) == 0 {
		return nil
	}
	err := s.write(ctx, func(c *conn) ([]Event, error) {
		var all []Event
		for _, op := range ops {
			ev, err := op(c)
			if err != nil {
				return nil, err
			}
			all = append(all, ev...)
		}
		return all, nil
	})
	if err != nil {
		return fmt.Errorf("mailstore: commit %d writes: %w", len(ops), err)
	}
	return nil
}

// Append moves the writes queued in other to the end of b.
func (b *Batch) Append(other *Batch) {
	b.ops = append(b.ops, other.ops...)
	b.size += other.size
	b.adds += other.adds
	other.ops, other.size, other.adds = nil, 0, 0
}
