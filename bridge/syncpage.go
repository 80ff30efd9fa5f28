package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"umbra/bridge/syncdoc"
	"umbra/dmap"
)

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
	doc    any      // what its kind's open made of it (synckinds.go)
	paired *fetched // a content document's meta document, fetched with it
	skip   bool     // nothing to do (applied already, or this device has it)
	err    error
}

// applyPage downloads the page's documents ahead, prefetch at a time, and
// applies them in feed order into q. A document that failed for good is
// reported and skipped; any other failure stops the page, to be retried
// from the cursor (documents already applied are then skipped without a
// download).
func (e *syncEngine) applyPage(ctx context.Context, q *batcher, changes []dmap.Change) error {
	b := e.b
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
				results[i] <- e.fetch(ctx, changes[i], applied[changes[i].ID])
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
		if ch.Kind == syncdoc.KindContent && i+1 < len(changes) && changes[i+1].ID == syncdoc.MetaID(keyOf(ch.ID)) {
			m := get(i + 1)
			if m.err != nil && !isPermanent(m.err) {
				return fmt.Errorf("%s: %w", changes[i+1].ID, m.err)
			}
			r.paired = &m
		}
		if err := e.apply(ctx, q, ch, r); err != nil {
			return fmt.Errorf("%s: %w", ch.ID, err)
		}
		if r.paired != nil {
			// Its meta document came with it: recorded, at the message.
			i++
			if err := q.record(changes[i], keyOf(ch.ID)); err != nil {
				return err
			}
		}
		b.st.applied()
		var next chan fetched
		if i+1 < len(changes) {
			next = results[i+1]
		}
		if err := q.applied(ctx, next); err != nil {
			return err
		}
	}
	return nil
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

// fetch downloads and opens one document (a prefetch worker) by its
// kind's entry in kinds; applied is the revision this device applied
// already, 0 if none. A kind not in kinds is not downloaded (apply counts
// it).
func (e *syncEngine) fetch(ctx context.Context, ch dmap.Change, applied int64) fetched {
	b := e.b
	k, known := kinds[ch.Kind]
	if ch.Deleted || !known {
		return fetched{}
	}
	if applied >= ch.Revision || k.have != nil && k.have(b, ctx, ch) {
		return fetched{skip: true}
	}
	doc, err := b.cfg.Client.Get(ctx, ch.ID)
	if errors.Is(err, dmap.ErrDeleted) || errors.Is(err, dmap.ErrNotFound) {
		return fetched{skip: true} // gone since the page was read; the feed will say so
	}
	if err != nil {
		return fetched{err: err}
	}
	b.st.downloaded(len(doc.Data), ch.Kind == syncdoc.KindMail || ch.Kind == syncdoc.KindContent)
	v, err := k.open(b, ctx, doc)
	if err != nil {
		return fetched{err: err}
	}
	return fetched{doc: v}
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
