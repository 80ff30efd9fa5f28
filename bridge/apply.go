package bridge

// The handlers of the message kinds of the sync engine's table
// (synckinds.go): delivered mail (mail), a message's content (msg) and its
// state (meta), with what they share with the local changes.

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
	"umbra/dmime"
)

// openedMail is a delivered message opened for its mailbox (openMailDoc).
type openedMail struct {
	mime    []byte // the opened, stamped, screened message
	mailbox string // where screen filed it
}

// openMailDoc opens a delivered D/MIME message (incoming.go) and screens
// it (spam.go): the open of kind mail.
func openMailDoc(b *Bridge, ctx context.Context, doc dmap.Document) (any, error) {
	mime, err := b.openMail(ctx, doc.Data)
	if errors.Is(err, dmime.ErrKeyslot) {
		// Sealed to keys another device rotated to, which this one may
		// have kept aside (keyring.go).
		if took, terr := b.takePendingKeys(ctx); terr != nil {
			return nil, terr
		} else if took {
			mime, err = b.openMail(ctx, doc.Data)
		}
	}
	if err != nil {
		return nil, err
	}
	mime, mailbox, err := b.screen(ctx, mime)
	if err == nil && mailbox != mailstore.Inbox {
		// Remembered so that the user's moving it out of Junk trains ham
		// (spamtrain.go).
		err = b.store.SetState(ctx, spamMsgState+syncdoc.MailKey(doc.ID), []byte(filedAsSpam))
	}
	if err != nil {
		return nil, err
	}
	return &openedMail{mime: mime, mailbox: mailbox}, nil
}

// applyMail queues a delivered message in its mailbox. Local: this device
// made the message's storage form; push writes it up and then deletes the
// delivered document.
func applyMail(b *Bridge, ctx context.Context, q *batcher, ch dmap.Change, r fetched) error {
	m := r.doc.(*openedMail)
	key := syncdoc.MailKey(ch.ID)
	mailbox := cmp.Or(m.mailbox, mailstore.Inbox)
	if mailbox != mailstore.Inbox {
		if err := b.queuedMailbox(ctx, q, mailbox); err != nil {
			return err
		}
	}
	if err := q.cur.Add(mailstore.NewMessage{Key: key, Mailbox: mailbox, MIME: m.mime}, mailstore.Local); err != nil {
		return err
	}
	return q.record(ch, key)
}

// haveMessage: a message this device already has (it converted or sent
// it) needs no download of its content document.
func haveMessage(b *Bridge, ctx context.Context, ch dmap.Change) bool {
	_, err := b.store.ByKey(ctx, keyOf(ch.ID))
	return err == nil
}

// applyContent queues a message another device wrote, in the mailbox and
// with the flags of its meta document when that came in the same page
// (pairContent).
func applyContent(b *Bridge, ctx context.Context, q *batcher, ch dmap.Change, r fetched) error {
	key := keyOf(ch.ID)
	c := r.doc.(*syncdoc.Content)
	nm := mailstore.NewMessage{Key: key, Mailbox: mailstore.Inbox}
	if p := r.paired; p != nil && p.doc != nil {
		meta := p.doc.(*syncdoc.Meta)
		if meta.Deleted {
			return q.record(ch, key)
		}
		nm.Mailbox, nm.Flags = meta.Mailbox, meta.Flags
	}
	if nm.Mailbox != mailstore.Inbox {
		if err := b.queuedMailbox(ctx, q, nm.Mailbox); err != nil {
			return err
		}
	}
	nm.InternalDate, nm.MIME = c.InternalDate, stamp(c.MIME, c.Security)
	if err := q.cur.Add(nm, mailstore.Remote); err != nil {
		return err
	}
	return q.record(ch, key)
}

// deleteContent removes a message another device deleted (its content
// document's tombstone). It reads the store, so everything queued goes
// first.
func deleteContent(b *Bridge, ctx context.Context, q *batcher, ch dmap.Change) error {
	if err := q.flush(ctx); err != nil {
		return err
	}
	key := keyOf(ch.ID)
	m, err := b.store.ByKey(ctx, key)
	if err == nil {
		err = b.store.Expunge(ctx, m.ID, mailstore.Remote)
	}
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return err
	}
	return b.recordDoc(ctx, ch, key)
}

// applyMetaDoc applies another device's state of a message.
func applyMetaDoc(b *Bridge, ctx context.Context, q *batcher, ch dmap.Change, r fetched) error {
	meta := r.doc.(*syncdoc.Meta)
	if meta.Device == b.cfg.DeviceID {
		// The echo of this device's own write (push): the local state is
		// that or newer. Recorded in the batch, without the flush applying
		// a meta document takes: a push of thousands comes back as
		// thousands of echoes.
		return q.record(ch, meta.Key)
	}
	if err := q.flush(ctx); err != nil {
		return err
	}
	if err := b.applyMeta(ctx, meta); err != nil {
		return err
	}
	return b.recordDoc(ctx, ch, meta.Key)
}

// queuedMailbox makes sure a message queued in q for mailbox name finds it
// there. A batch only adds, so a mailbox that exists now still does when
// the batch commits, unless a mail client deletes it meanwhile: then the
// commit fails and the page is applied again. Only a missing mailbox
// costs a flush.
func (b *Bridge) queuedMailbox(ctx context.Context, q *batcher, name string) error {
	if _, err := b.store.Mailbox(ctx, name); !errors.Is(err, mailstore.ErrNotFound) {
		return err
	}
	if err := q.flush(ctx); err != nil {
		return err
	}
	return b.ensureMailbox(ctx, name)
}

// ensureMailbox creates a mailbox another device put a message in, when
// its folders document has not arrived yet.
func (b *Bridge) ensureMailbox(ctx context.Context, name string) error {
	_, err := b.store.Mailbox(ctx, name)
	if errors.Is(err, mailstore.ErrNotFound) {
		_, err = b.store.CreateMailbox(ctx, name, mailstore.Remote)
		if errors.Is(err, mailstore.ErrExists) {
			err = nil
		}
	}
	return err
}

// applyMeta applies another device's state of a message (apply records
// the echoes of this device's own writes without it). Without a local
// change since the last agreed state, theirs is taken as it is; with one,
// the two merge (docs/spec/sync.md: flags as sets, the last writer's
// mailbox, deletion sticky) and the merged state is applied in one step
// and stays pending for push, so a client never sees the message jump
// back and forth.
func (b *Bridge) applyMeta(ctx context.Context, theirs *syncdoc.Meta) error {
	m, err := b.store.ByKey(ctx, theirs.Key)
	if errors.Is(err, mailstore.ErrNotFound) {
		return nil // deleted here already, or its content has not arrived
	}
	if err != nil {
		return err
	}
	if theirs.Deleted {
		return b.store.Expunge(ctx, m.ID, mailstore.Remote)
	}
	if m.Mailbox == m.SyncedMailbox && slices.Equal(m.Flags, m.SyncedFlags) {
		_, err = b.setState(ctx, m, theirs.Mailbox, theirs.Flags, mailstore.Remote)
		return err
	}
	base := &syncdoc.Meta{Key: m.Key, Mailbox: m.SyncedMailbox, Flags: m.SyncedFlags}
	ours := &syncdoc.Meta{Key: m.Key, Mailbox: m.Mailbox, Flags: m.Flags, Updated: b.now().UnixMilli(), Device: b.cfg.DeviceID}
	merged := syncdoc.MergeMeta(base, ours, theirs)
	origin := mailstore.Local
	if merged.Mailbox == theirs.Mailbox && slices.Equal(merged.Flags, theirs.Flags) {
		origin = mailstore.Remote // theirs won outright: it is the agreed state
	}
	_, err = b.setState(ctx, m, merged.Mailbox, merged.Flags, origin)
	return err
}

// setState moves a message and sets its flags, as far as they differ.
func (b *Bridge) setState(ctx context.Context, m mailstore.Message, mailbox string, flags []string, origin mailstore.Origin) (mailstore.Message, error) {
	var err error
	if mailbox != "" && mailbox != m.Mailbox {
		if err = b.ensureMailbox(ctx, mailbox); err != nil {
			return m, err
		}
		if m, err = b.store.Move(ctx, m.ID, mailbox, origin); err != nil {
			return m, err
		}
	}
	if !slices.Equal(m.Flags, flags) || origin == mailstore.Remote {
		m, err = b.store.SetFlags(ctx, m.ID, flags, origin)
	}
	return m, err
}
