package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"umbra/backoff"
	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
	"umbra/dmime"
)

// kindMail is the kind of a document the provider made from a delivered
// message (docs/spec/dmap.md §8.1).
const kindMail = "mail"

// Documents of a page are downloaded (and delivered mail opened) ahead of
// the one being applied, so that downloads overlap the store's commits: up
// to prefetchDocs documents and prefetchBytes bytes (by the sizes the feed
// gives; one larger document alone), fetchers at a time. Memory stays
// bounded whatever the mailbox.
const (
	prefetchDocs  = 64
	prefetchBytes = 32 << 20
	fetchers      = 8
)

// fetched is one document of a page, downloaded and opened by a worker.
type fetched struct {
	mime    []byte           // kindMail: the opened, stamped, screened message
	mailbox string           // kindMail: where screen filed it
	spam    []byte           // KindSpam: another device's plaintext
	content *syncdoc.Content // KindContent
	meta    *syncdoc.Meta    // KindMeta
	folders *syncdoc.Folders // KindFolders
	contact *syncdoc.Contact // KindContact
	keyring *syncdoc.Keyring // KindKeyring
	skip    bool             // nothing to do (already applied)
	err     error
}

// syncRetry is the wait of the pull and push loops after a failure.
var syncRetry = backoff.Policy{Base: time.Second, Max: time.Minute}

// pullLoop follows the change feed until ctx ends, backing off while the
// provider cannot be reached.
func (b *Bridge) pullLoop(ctx context.Context) {
	failures := 0
	var audited time.Time
	for ctx.Err() == nil {
		err := b.pullOnce(ctx, b.cfg.Wait)
		if err == nil && b.now().Sub(audited) >= auditInterval {
			// The audit follows the sync, at most once a minute: a key
			// made in the user's name is found within a minute of its
			// logging, and the first audit runs right after start.
			audited = b.now()
			if _, aerr := b.AuditLog(ctx); aerr != nil && ctx.Err() == nil {
				b.setError("audit", aerr)
				b.log.Warn("audit failed", "err", aerr)
			}
		}
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		wait := syncRetry.Delay(failures)
		b.setError("sync", err)
		b.log.Warn("sync: pull failed", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Sync pulls until the feed has nothing more, without waiting for new
// changes: what a caller uses to converge now (tests, benchmarks).
func (b *Bridge) Sync(ctx context.Context) error { return b.pullOnce(ctx, 0) }

// pullOnce applies feed pages from the cursor until a page is not full.
// With wait > 0 the first empty answer long-polls. The next page is asked
// for while one is applied, and each page's cursor commits with its last
// batch, so the downloads and the store's commits go on across pages.
func (b *Bridge) pullOnce(ctx context.Context, wait time.Duration) (err error) {
	// The sync engine's writes are not the user's: they train no spam
	// filter (spamtrain.go).
	ctx = mailstore.WithActor(ctx, pullActor)
	since, err := b.store.Cursor(ctx)
	if err != nil {
		return err
	}
	q := newBatcher(b)
	// What was applied before a failure is kept.
	defer func() {
		if ferr := q.flush(ctx); err == nil {
			err = ferr
		}
	}()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := b.readPage(rctx, since, wait)
	// listed is, during a resync from scratch, every id the feed lists.
	var listed map[string]bool
	for {
		r := <-next
		if listed == nil && errors.Is(r.err, dmap.ErrResync) {
			// The provider collected tombstones this device has not seen
			// (docs/spec/dmap.md §8.6): read the whole feed again. The
			// cursor stays where it was until the resync is complete, so
			// one interrupted starts over.
			b.log.Info("sync: tombstones since the cursor were collected; syncing again from scratch", "cursor", since)
			listed = map[string]bool{}
			next = b.readPage(rctx, 0, 0)
			continue
		}
		if r.err != nil {
			return b.relogin(ctx, r.err)
		}
		b.st.setOnline(true)
		page := cutAtKeyring(r.page)
		b.catchingUp.Store(page.More)
		if page.More {
			next = b.readPage(rctx, page.Next, 0)
		}
		if err := b.applyPage(ctx, q, page.Changes); err != nil {
			return err
		}
		if listed == nil {
			q.cur.SetCursor(page.Next)
		} else {
			for _, ch := range page.Changes {
				listed[ch.ID] = true
			}
			if !page.More {
				if err := b.dropUnlisted(ctx, q, listed); err != nil {
					return err
				}
				q.cur.SetCursor(page.Next)
			}
		}
		if len(b.doomed) > 0 {
			// reapFolders reads the store.
			if err := q.flush(ctx); err != nil {
				return err
			}
			if err := b.reapFolders(ctx); err != nil {
				return err
			}
		} else if err := q.behind(ctx); err != nil {
			return err
		}
		b.st.setCursor(page.Next, page.Head, page.More)
		if !page.More {
			if err := q.flush(ctx); err != nil {
				return err
			}
			wake(b.pushWake)
			return nil
		}
	}
}

// cutAtKeyring ends a page at its keyring document (keyring.go): the mail
// after it may be sealed to the keys it brings, so it is fetched, and
// opened, only once they are taken, with the next page.
func cutAtKeyring(p dmap.Page) dmap.Page {
	for i, ch := range p.Changes {
		if ch.Kind == syncdoc.KindKeyring && i+1 < len(p.Changes) {
			p.Changes = p.Changes[:i+1]
			p.Next, p.More = ch.Seq, true
			break
		}
	}
	return p
}

// dropUnlisted ends a resync from scratch: a message whose content
// document this device applied, and which the whole feed no longer lists,
// was deleted and its tombstone collected, so it goes exactly as that
// tombstone would have taken it (apply). Only a tombstone of a content
// document removes anything here; those of other kinds are records
// alone. The provider is asked before: a document written after its page
// was read (this device's push, say) is not gone, and the next page lists
// it.
func (b *Bridge) dropUnlisted(ctx context.Context, q *batcher, listed map[string]bool) error {
	if err := q.flush(ctx); err != nil {
		return err
	}
	boxes, err := b.store.Mailboxes(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, mb := range boxes {
		msgs, err := b.store.List(ctx, mb.ID)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if id := syncdoc.ContentID(m.Key); !listed[id] {
				ids = append(ids, id)
			}
		}
	}
	applied, err := b.store.Revisions(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		rev, ok := applied[id]
		if !ok {
			continue // never at the provider: push writes it
		}
		_, err := b.cfg.Client.GetRange(ctx, id, 0, 1)
		if errors.Is(err, dmap.ErrDeleted) || err == nil {
			continue // written since its page was read: the next pull applies it
		}
		if !errors.Is(err, dmap.ErrNotFound) {
			return fmt.Errorf("resync: %s: %w", id, err)
		}
		gone := dmap.Change{ID: id, Kind: syncdoc.KindContent, Revision: rev + 1, Deleted: true}
		if err := b.apply(ctx, q, gone, fetched{}, nil); err != nil {
			return fmt.Errorf("resync: %s: %w", id, err)
		}
	}
	return nil
}

// pageResult is one answer of the change feed.
type pageResult struct {
	page dmap.Page
	err  error
}

// readPage asks for the feed page after since on a goroutine of its own.
func (b *Bridge) readPage(ctx context.Context, since int64, wait time.Duration) <-chan pageResult {
	c := make(chan pageResult, 1)
	go func() {
		page, err := b.cfg.Client.Changes(ctx, since, wait)
		c <- pageResult{page, err}
	}()
	return c
}

// relogin logs in again when the session has lapsed (the refresh token
// expired or the provider forgot it), and reports err otherwise.
func (b *Bridge) relogin(ctx context.Context, err error) error {
	if !errors.Is(err, dmap.ErrUnauthorized) && !errors.Is(err, dmap.ErrNotLoggedIn) {
		b.st.setOnline(false)
		return err
	}
	if lerr := b.cfg.Client.Login(ctx, b.address, b.cfg.Keys.Device); lerr != nil {
		return fmt.Errorf("log in again: %w", lerr)
	}
	return err
}

// applyPage downloads the page's documents ahead, prefetch at a time, and
// applies them in feed order into q. A document that failed for good is
// reported and skipped; any other failure stops the page, to be retried
// from the cursor (documents already applied are then skipped without a
// download).
func (b *Bridge) applyPage(ctx context.Context, q *batcher, changes []dmap.Change) error {
	changes = pairContent(changes)
	ids := make([]string, len(changes))
	for i, ch := range changes {
		ids[i] = ch.ID
	}
	applied, err := b.store.Revisions(ctx, ids)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan fetched, len(changes))
	for i := range results {
		results[i] = make(chan fetched, 1)
	}
	ahead := newBudget(prefetchDocs, prefetchBytes)
	workers := make(chan struct{}, fetchers)
	go func() {
		for i := range changes {
			if !ahead.acquire(ctx, changes[i].Size) {
				return
			}
			select {
			case workers <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				results[i] <- b.fetch(ctx, changes[i], applied[changes[i].ID])
				<-workers
			}()
		}
	}()
	// The fetcher stops when ctx ends (the bridge closes): then no result
	// comes, and waiting for one must end too.
	get := func(i int) fetched {
		select {
		case r := <-results[i]:
			ahead.release(changes[i].Size)
			return r
		case <-ctx.Done():
			return fetched{err: ctx.Err()}
		}
	}
	for i := 0; i < len(changes); i++ {
		ch, r := changes[i], get(i)
		if r.err != nil && !isPermanent(r.err) {
			return fmt.Errorf("%s: %w", ch.ID, r.err)
		}
		var meta *fetched
		if ch.Kind == syncdoc.KindContent && i+1 < len(changes) && changes[i+1].ID == syncdoc.MetaID(keyOf(ch.ID)) {
			m := get(i + 1)
			if m.err != nil && !isPermanent(m.err) {
				return fmt.Errorf("%s: %w", changes[i+1].ID, m.err)
			}
			meta = &m
		}
		if err := b.apply(ctx, q, ch, r, meta); err != nil {
			return fmt.Errorf("%s: %w", ch.ID, err)
		}
		if meta != nil {
			i++
			m := changes[i]
			if err := q.cur.PutDoc(mailstore.Doc{ID: m.ID, Kind: m.Kind, Revision: m.Revision, Key: keyOf(ch.ID)}); err != nil {
				return err
			}
		}
		b.st.applied()
		// Commit when the batch is large, or when the next document takes
		// longer than batchLinger to arrive: a lone new message shows at
		// once, and an initial sync commits many per fsync.
		if q.cur.Len() >= maxBatch || q.cur.Size() >= maxBatchBytes || i+1 < len(changes) && !arrives(results[i+1], batchLinger) {
			if err := q.behind(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// A batch of applied documents commits at the latest at maxBatch writes
// or maxBatchBytes of messages, or when the next document is not there
// within batchLinger.
const (
	maxBatch      = 512
	maxBatchBytes = 16 << 20
	batchLinger   = 20 * time.Millisecond
)

// arrives waits up to d for a fetch result, leaving it in its channel.
func arrives(c chan fetched, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-c:
		c <- r // the channel holds one result; put it back for get
		return true
	case <-t.C:
		return false
	}
}

// pairContent moves each message's meta document right behind its content
// document when both are in the page, so that a message arrives in its
// mailbox with its flags at once. The feed lists a document at its latest
// change, and the meta document of a message is never older than its
// content, so this only moves meta documents earlier.
func pairContent(changes []dmap.Change) []dmap.Change {
	metas := map[string]int{}
	for i, ch := range changes {
		if ch.Kind == syncdoc.KindMeta {
			metas[ch.ID] = i
		}
	}
	out := make([]dmap.Change, 0, len(changes))
	moved := map[int]bool{}
	for i, ch := range changes {
		if moved[i] {
			continue
		}
		out = append(out, ch)
		if ch.Kind == syncdoc.KindContent && !ch.Deleted {
			if j, ok := metas[syncdoc.MetaID(keyOf(ch.ID))]; ok && j > i {
				out = append(out, changes[j])
				moved[j] = true
			}
		}
	}
	return out
}

// keyOf is the message key in a content or meta document id ("c-KEY",
// "m-KEY").
func keyOf(id string) string {
	if _, k, ok := strings.Cut(id, "-"); ok {
		return k
	}
	return ""
}

// fetch downloads and opens one document (a prefetch worker); applied is
// the revision this device applied already, 0 if none.
func (b *Bridge) fetch(ctx context.Context, ch dmap.Change, applied int64) fetched {
	if ch.Deleted {
		return fetched{}
	}
	if applied >= ch.Revision {
		return fetched{skip: true}
	}
	if ch.Kind == syncdoc.KindContent {
		// A message this device already has (it converted or sent it)
		// needs no download.
		if _, err := b.store.ByKey(ctx, keyOf(ch.ID)); err == nil {
			return fetched{skip: true}
		}
	}
	switch ch.Kind {
	case kindMail, syncdoc.KindContent, syncdoc.KindMeta, syncdoc.KindFolders, syncdoc.KindContact, syncdoc.KindKeyring:
	case syncdoc.KindSpam:
		if ch.ID == syncdoc.SpamID(b.cfg.DeviceID) {
			return fetched{skip: true} // this device's own counts, which it has
		}
	default:
		return fetched{skip: true} // a kind of a later version: not ours to read
	}
	doc, err := b.cfg.Client.Get(ctx, ch.ID)
	if errors.Is(err, dmap.ErrDeleted) || errors.Is(err, dmap.ErrNotFound) {
		return fetched{skip: true} // gone since the page was read; the feed will say so
	}
	if err != nil {
		return fetched{err: err}
	}
	b.st.downloaded(len(doc.Data), ch.Kind == kindMail || ch.Kind == syncdoc.KindContent)
	if ch.Kind == kindMail {
		mime, err := b.openMail(ctx, doc.Data)
		if errors.Is(err, dmime.ErrKeyslot) {
			// Sealed to keys another device rotated to, which this one
			// may have kept aside (keyring.go).
			if took, terr := b.takePendingKeys(ctx); terr != nil {
				return fetched{err: terr}
			} else if took {
				mime, err = b.openMail(ctx, doc.Data)
			}
		}
		if err != nil {
			return fetched{err: err}
		}
		mime, mailbox, err := b.screen(ctx, mime)
		if err == nil && mailbox != mailstore.Inbox {
			// Remembered so that the user's moving it out of Junk
			// trains ham (spamtrain.go).
			err = b.store.SetState(ctx, spamMsgState+syncdoc.MailKey(ch.ID), []byte(filedAsSpam))
		}
		return fetched{mime: mime, mailbox: mailbox, err: err}
	}
	plain, err := b.sealer.Open(doc.ID, doc.Kind, doc.Revision, doc.Data)
	if err != nil {
		return fetched{err: &permanentError{err}}
	}
	var r fetched
	switch ch.Kind {
	case syncdoc.KindContent:
		r.content, err = syncdoc.ParseContent(plain)
	case syncdoc.KindMeta:
		r.meta, err = syncdoc.ParseMeta(plain)
	case syncdoc.KindFolders:
		r.folders, err = syncdoc.ParseFolders(plain)
	case syncdoc.KindContact:
		r.contact, err = syncdoc.ParseContact(plain)
	case syncdoc.KindKeyring:
		r.keyring, err = syncdoc.ParseKeyring(plain)
		clear(plain)
	case syncdoc.KindSpam:
		r.spam = plain
	}
	if err != nil {
		return fetched{err: &permanentError{err}}
	}
	return r
}

// commit commits batch and counts its messages as received: status
// counts what is durable.
func (b *Bridge) commit(ctx context.Context, batch *mailstore.Batch) error {
	n := batch.Adds()
	if err := b.store.Commit(ctx, batch); err != nil {
		return err
	}
	b.st.received(n)
	return nil
}

// recordDoc notes that a document was applied at its revision.
func (b *Bridge) recordDoc(ctx context.Context, ch dmap.Change, key string) error {
	return b.store.PutDoc(ctx, mailstore.Doc{ID: ch.ID, Kind: ch.Kind, Revision: ch.Revision, Key: key})
}

// budget bounds the documents and bytes fetched ahead of the applier.
type budget struct {
	mu               sync.Mutex
	cond             *sync.Cond
	docs, bytes      int64
	maxDocs, maxByte int64
}

func newBudget(docs, bytes int64) *budget {
	b := &budget{maxDocs: docs, maxByte: bytes}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire waits until one more document of size n fits (or none is held,
// so a document larger than the budget still goes alone); false when ctx
// ended.
func (b *budget) acquire(ctx context.Context, n int64) bool {
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.docs > 0 && (b.docs >= b.maxDocs || b.bytes+n > b.maxByte) {
		if ctx.Err() != nil {
			return false
		}
		b.cond.Wait()
	}
	b.docs++
	b.bytes += n
	return ctx.Err() == nil
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.docs--
	b.bytes -= n
	b.cond.Broadcast()
	b.mu.Unlock()
}
