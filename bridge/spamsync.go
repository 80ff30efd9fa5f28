package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
	"umbra/spam"
)

// saveSpam stores this device's training in the store and marks it for
// the provider. Rare tokens are pruned first when the training has grown
// past spamMaxTokens.
func (b *Bridge) saveSpam(ctx context.Context) error {
	f := b.spam
	f.mu.Lock()
	if pruned := spam.Prune(spamMaxTokens, f.plus, f.minus); pruned > 0 {
		b.log.Info("spam: pruned rare tokens", "tokens", pruned)
	}
	plain, err := f.ownDoc(b.cfg.DeviceID, b.now())
	f.mu.Unlock()
	if err != nil {
		return err
	}
	// Marked unpushed first: a crash between the two writes pushes the
	// same counts twice, never none.
	if err := b.store.SetState(ctx, spamPushState, []byte("0")); err != nil {
		return fmt.Errorf("spam: save training: %w", err)
	}
	if err := putBlob(ctx, b.store, spamOwnState, plain); err != nil {
		return fmt.Errorf("spam: save training: %w", err)
	}
	f.dirty.Store(true)
	return nil
}

// ownDoc is the plaintext of this device's spam document; the caller
// holds f.mu.
func (f *spamFilter) ownDoc(device string, now time.Time) ([]byte, error) {
	plus, err := f.plus.MarshalBinary()
	if err != nil {
		return nil, err
	}
	minus, err := f.minus.MarshalBinary()
	if err != nil {
		return nil, err
	}
	d := &syncdoc.Spam{Device: device, Updated: now.UnixMilli(), Plus: plus, Minus: minus}
	for _, k := range slices.Sorted(maps.Keys(f.own)) {
		d.Entries = append(d.Entries, f.own[k])
	}
	return d.Marshal()
}

// pushSpam writes this device's training to its spam document when it
// changed. The document has one writer, this device, so a conflict can
// only be a revision this device does not know of (a restore from an old
// backup): the document is rewritten over it, since these counts are the
// newest of its writer.
func (b *Bridge) pushSpam(ctx context.Context) error {
	if !b.spam.dirty.Swap(false) {
		return nil
	}
	err := b.putSpamDoc(ctx)
	if err != nil {
		b.spam.dirty.Store(true)
	}
	return err
}

func (b *Bridge) putSpamDoc(ctx context.Context) error {
	plain, err := getBlob(ctx, b.store, spamOwnState)
	if err != nil {
		return err
	}
	id := syncdoc.SpamID(b.cfg.DeviceID)
	revs, err := b.store.Revisions(ctx, []string{id})
	if err != nil {
		return err
	}
	rev := revs[id]
	for range maxMergeRounds {
		sealed, err := b.sealer.Seal(id, syncdoc.KindSpam, rev+1, plain)
		if err != nil {
			return err
		}
		ch, err := b.cfg.Client.Put(ctx, id, syncdoc.KindSpam, rev, sealed)
		var de *dmap.Error
		if errors.As(err, &de) && de.Code == dmap.CodeConflict {
			rev = de.Current
			continue
		}
		if err != nil {
			return fmt.Errorf("spam: push training: %w", b.relogin(ctx, err))
		}
		if err := b.store.PutDoc(ctx, mailstore.Doc{ID: id, Kind: syncdoc.KindSpam, Revision: ch.Revision}); err != nil {
			return err
		}
		if b.spam.dirty.Load() {
			return nil // trained again meanwhile: still unpushed
		}
		return b.store.SetState(ctx, spamPushState, []byte("1"))
	}
	return fmt.Errorf("spam: push training: still in conflict after %d rounds", maxMergeRounds)
}

// applySpam takes another device's spam document into the model. Its
// plaintext is kept in the store, so the next start sums it without
// fetching it again.
func (b *Bridge) applySpam(ctx context.Context, id string, plain []byte) error {
	c, d, err := decodeSpamDoc(plain)
	if err != nil {
		return &permanentError{fmt.Errorf("spam document %s: %w", id, err)}
	}
	if d.Device == b.cfg.DeviceID || id == syncdoc.SpamID(b.cfg.DeviceID) {
		return nil // this device's own, written back: the local counts are newer or equal
	}
	if err := putBlob(ctx, b.store, spamDocState+id, plain); err != nil {
		return err
	}
	f := b.spam
	f.mu.Lock()
	defer f.mu.Unlock()
	// The trainer settles what the document's entries leave off
	// (spamjudge.go reconcile); woken by a job that trains nothing, or
	// by the next batch when the queue is full.
	f.stale.Store(true)
	select {
	case f.queue <- trainJob{}:
	default:
	}
	_, known := f.others[id]
	f.others[id] = c
	if !known {
		ids := make([]string, 0, len(f.others))
		for k := range f.others {
			ids = append(ids, k)
		}
		slices.Sort(ids)
		if err := b.store.SetState(ctx, spamDocsState, []byte(strings.Join(ids, " "))); err != nil {
			return err
		}
	}
	f.combine()
	return nil
}
