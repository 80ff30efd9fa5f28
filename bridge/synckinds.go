package bridge

import (
	"context"
	"fmt"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
)

// docKind is how the sync engine handles one kind of document of the
// change feed (docs/spec/dmap.md §8.1 for mail, docs/spec/sync.md §2 for
// the rest): one entry of kinds. A new kind is one entry here and one
// handler.
type docKind struct {
	// have reports, before any download, that this device has the
	// document's effect already (a message it converted or sent, its own
	// spam counts): it is recorded and not fetched. Nil: never.
	have func(b *Bridge, ctx context.Context, ch dmap.Change) bool
	// open turns the downloaded document into what apply takes. It runs
	// on a prefetch worker, ahead of the applier and concurrently with
	// other opens; a *permanentError means the document can never be
	// applied (the engine rejects it).
	open func(b *Bridge, ctx context.Context, doc dmap.Document) (any, error)
	// apply applies an opened document on the applier goroutine, into the
	// batch q or straight to the store (stored), and records it.
	apply func(b *Bridge, ctx context.Context, q *batcher, ch dmap.Change, r fetched) error
	// deleted applies the document's tombstone. Nil: a tombstone is only
	// recorded, as it is for every kind but a message's content (dmap.md
	// §8.6: tombstones of other kinds change nothing on a device).
	deleted func(b *Bridge, ctx context.Context, q *batcher, ch dmap.Change) error
}

// kinds is every kind of document the bridge reads. A document of any
// other kind (a later version's) is counted in the status, logged and
// recorded, never silently skipped (synckinds.go, unknownKind).
var kinds = map[string]docKind{
	syncdoc.KindMail: {open: openMailDoc, apply: applyMail},
	syncdoc.KindContent: {
		have:    haveMessage,
		open:    sealed(syncdoc.ParseContent),
		apply:   applyContent,
		deleted: deleteContent,
	},
	syncdoc.KindMeta: {open: sealed(syncdoc.ParseMeta), apply: applyMetaDoc},
	syncdoc.KindFolders: {
		open: sealed(syncdoc.ParseFolders),
		apply: stored(func(b *Bridge, ctx context.Context, _ string, f *syncdoc.Folders) error {
			return b.applyFolders(ctx, f)
		}),
	},
	syncdoc.KindContact: {open: sealed(syncdoc.ParseContact), apply: stored((*Bridge).applyContact)},
	syncdoc.KindKeyring: {
		open: sealed(func(plain []byte) (*syncdoc.Keyring, error) {
			kr, err := syncdoc.ParseKeyring(plain) // copies the seeds
			clear(plain)
			return kr, err
		}),
		apply: stored(func(b *Bridge, ctx context.Context, _ string, kr *syncdoc.Keyring) error {
			return b.applyKeyring(ctx, kr)
		}),
	},
	syncdoc.KindSpam: {
		have: func(b *Bridge, _ context.Context, ch dmap.Change) bool {
			return ch.ID == syncdoc.SpamID(b.cfg.DeviceID) // this device's own counts, which it has
		},
		open:  sealed(func(plain []byte) ([]byte, error) { return plain, nil }),
		apply: stored((*Bridge).applySpam),
	},
}

// sealed is the open of a kind sealed under the storage key (sync.md §3–§4):
// decrypted, then parsed. Neither can succeed later if it fails now.
func sealed[T any](parse func(plain []byte) (T, error)) func(*Bridge, context.Context, dmap.Document) (any, error) {
	return func(b *Bridge, _ context.Context, doc dmap.Document) (any, error) {
		plain, err := b.sealer.Open(doc.ID, doc.Kind, doc.Revision, doc.Data)
		if err != nil {
			return nil, &permanentError{err}
		}
		v, err := parse(plain)
		if err != nil {
			return nil, &permanentError{err}
		}
		return v, nil
	}
}

// stored is the apply of a kind applied straight to the store: what is
// queued commits first, so that the handler reads every earlier document;
// a handler's permanent failure rejects the document; then it is recorded.
func stored[T any](handle func(b *Bridge, ctx context.Context, id string, v T) error) func(*Bridge, context.Context, *batcher, dmap.Change, fetched) error {
	return func(b *Bridge, ctx context.Context, q *batcher, ch dmap.Change, r fetched) error {
		if err := q.flush(ctx); err != nil {
			return err
		}
		if err := handle(b, ctx, ch.ID, r.doc.(T)); err != nil {
			if isPermanent(err) {
				return b.rejected(ctx, ch, err)
			}
			return err
		}
		return b.recordDoc(ctx, ch, "")
	}
}

// apply applies one fetched document of the feed (the serial half of
// applyPage), by its kind's entry in kinds.
func (e *syncEngine) apply(ctx context.Context, q *batcher, ch dmap.Change, r fetched) error {
	b := e.b
	if r.err != nil {
		if err := q.flush(ctx); err != nil {
			return err
		}
		return b.rejected(ctx, ch, r.err)
	}
	k, known := kinds[ch.Kind]
	switch {
	case !known:
		if !ch.Deleted {
			e.unknownKind(ch)
		}
	case ch.Deleted && k.deleted != nil:
		return k.deleted(b, ctx, q, ch)
	case !ch.Deleted && !r.skip:
		return k.apply(b, ctx, q, ch, r)
	}
	return q.record(ch, keyOf(ch.ID))
}

// unknownKind reports a document of a kind this version cannot read: a
// later version's, or a provider's mistake. It is counted in the status
// (`umbra bridge status`) and logged once per kind, and then recorded like
// any other, so that it is not fetched again.
func (e *syncEngine) unknownKind(ch dmap.Change) {
	e.b.st.update(func(s *Status) { s.UnknownDocs, s.UnknownKind = s.UnknownDocs+1, ch.Kind })
	if !e.unknown[ch.Kind] {
		e.unknown[ch.Kind] = true
		e.b.log.Warn("sync: a document of a kind this version cannot read; a later version of Umbra shows it",
			"id", ch.ID, "kind", ch.Kind)
	}
}

// rejected handles a document that can never be applied: it is recorded so
// that it is not fetched again, and for delivered mail the user finds a
// notice in the inbox (the document stays at the provider).
func (b *Bridge) rejected(ctx context.Context, ch dmap.Change, cause error) error {
	b.setError("sync", fmt.Errorf("%s: %w", ch.ID, cause))
	b.log.Warn("sync: document rejected", "id", ch.ID, "kind", ch.Kind, "err", cause)
	if ch.Kind == syncdoc.KindMail {
		notice := noticeMIME("A message could not be opened",
			"Umbra received a message for you that failed its checks, so it is not shown.\r\n\r\n"+
				"Reason: "+cause.Error()+"\r\n\r\nIt stays on your provider as document "+ch.ID+".\r\n")
		if _, _, err := b.store.Add(ctx, mailstore.NewMessage{Key: syncdoc.MailKey(ch.ID + "/notice"), Mailbox: mailstore.Inbox, MIME: notice}, mailstore.Remote); err != nil {
			return err
		}
	}
	return b.recordDoc(ctx, ch, "")
}
