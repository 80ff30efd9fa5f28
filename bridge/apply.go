package bridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
)

// apply applies one fetched document of the feed (the serial half of
// applyPage). New messages and document records go into q, which commits
// many at a time; anything that reads the store first flushes q, so it
// sees every earlier document. meta, when set, is the message's meta
// document fetched alongside its content document.
func (b *Bridge) apply(ctx context.Context, q *batcher, ch dmap.Change, r fetched, meta *fetched) error {
	record := func(key string) error {
		return q.cur.PutDoc(mailstore.Doc{ID: ch.ID, Kind: ch.Kind, Revision: ch.Revision, Key: key})
	}
	if r.err != nil {
		if err := q.flush(ctx); err != nil {
			return err
		}
		return b.rejected(ctx, ch, r.err)
	}
	if r.skip || ch.Deleted && ch.Kind != syncdoc.KindContent {
		return record(keyOf(ch.ID))
	}
	if r.meta != nil && r.meta.Device == b.cfg.DeviceID {
		// The echo of this device's own write (push): the local state is
		// that or newer. Recorded in the batch, without the flush applying
		// a meta document takes: a push of thousands comes back as
		// thousands of echoes.
		return record(r.meta.Key)
	}
	switch ch.Kind {
	case kindMail:
		key := syncdoc.MailKey(ch.ID)
		// Local: this device made the message's storage form; push writes
		// it up and then deletes the delivered document.
		mailbox := cmp.Or(r.mailbox, mailstore.Inbox)
		if mailbox != mailstore.Inbox {
			if err := b.queuedMailbox(ctx, q, mailbox); err != nil {
				return err
			}
		}
		if err := q.cur.Add(mailstore.NewMessage{Key: key, Mailbox: mailbox, MIME: r.mime}, mailstore.Local); err != nil {
			return err
		}
		return record(key)
	case syncdoc.KindContent:
		key := keyOf(ch.ID)
		nm := mailstore.NewMessage{Key: key, Mailbox: mailstore.Inbox}
		if !ch.Deleted && meta != nil && meta.meta != nil {
			if meta.meta.Deleted {
				return record(key)
			}
			nm.Mailbox, nm.Flags = meta.meta.Mailbox, meta.meta.Flags
		}
		if ch.Deleted {
			// Reads the store: everything queued goes first.
			if err := q.flush(ctx); err != nil {
				return err
			}
			return b.expungeRemote(ctx, ch, key)
		}
		if nm.Mailbox != mailstore.Inbox {
			if err := b.queuedMailbox(ctx, q, nm.Mailbox); err != nil {
				return err
			}
		}
		nm.InternalDate, nm.MIME = r.content.InternalDate, stamp(r.content.MIME, r.content.Security)
		if err := q.cur.Add(nm, mailstore.Remote); err != nil {
			return err
		}
		return record(key)
	}
	if err := q.flush(ctx); err != nil {
		return err
	}
	switch ch.Kind {
	case syncdoc.KindMeta:
		if err := b.applyMeta(ctx, r.meta); err != nil {
			return err
		}
		return b.recordDoc(ctx, ch, r.meta.Key)
	case syncdoc.KindFolders:
		if err := b.applyFolders(ctx, r.folders); err != nil {
			return err
		}
	case syncdoc.KindContact:
		if err := b.applyContact(ctx, ch.ID, r.contact); err != nil {
			if isPermanent(err) {
				return b.rejected(ctx, ch, err)
			}
			return err
		}
	case syncdoc.KindKeyring:
		if err := b.applyKeyring(ctx, r.keyring); err != nil {
			if isPermanent(err) {
				return b.rejected(ctx, ch, err)
			}
			return err
		}
	case syncdoc.KindSpam:
		if err := b.applySpam(ctx, ch.ID, r.spam); err != nil {
			if isPermanent(err) {
				return b.rejected(ctx, ch, err)
			}
			return err
		}
	}
	return b.recordDoc(ctx, ch, "")
}

// rejected handles a document that can never be applied: it is recorded so
// that it is not fetched again, and for delivered mail the user finds a
// notice in the inbox (the document stays at the provider).
func (b *Bridge) rejected(ctx context.Context, ch dmap.Change, cause error) error {
	b.setError("sync", fmt.Errorf("%s: %w", ch.ID, cause))
	b.log.Warn("sync: document rejected", "id", ch.ID, "kind", ch.Kind, "err", cause)
	if ch.Kind == kindMail {
		notice := noticeMIME("A message could not be opened",
			"Umbra received a message for you that failed its checks, so it is not shown.\r\n\r\n"+
				"Reason: "+cause.Error()+"\r\n\r\nIt stays on your provider as document "+ch.ID+".\r\n")
		if _, _, err := b.store.Add(ctx, mailstore.NewMessage{Key: syncdoc.MailKey(ch.ID + "/notice"), Mailbox: mailstore.Inbox, MIME: notice}, mailstore.Remote); err != nil {
			return err
		}
	}
	return b.recordDoc(ctx, ch, "")
}

// expungeRemote removes a message another device deleted.
func (b *Bridge) expungeRemote(ctx context.Context, ch dmap.Change, key string) error {
	m, err := b.store.ByKey(ctx, key)
	if err == nil {
		err = b.store.Expunge(ctx, m.ID, mailstore.Remote)
	}
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return err
	}
	return b.recordDoc(ctx, ch, key)
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
