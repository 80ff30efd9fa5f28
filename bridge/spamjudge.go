package bridge

import (
	"context"
	"errors"
	"fmt"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/mailtext"
)

// The ledger of judgements (docs/spec/sync.md §5.6): each device's spam
// document says, per message key, the device's last judgement of the
// message and how many times the message's tokens are in its counts
// (plus less minus, per class). Summed over every device, a message's
// entries say how the account's model holds it; the latest judgement
// (by stamp, §6) says how it should. A device that judges a message sets
// its own entry so that the sum comes to the judgement, whichever device
// trained it before, and trains or takes back the difference: so device B
// takes back what device A trained, and each message counts once.

// judgement is what every device's entries say of one message.
type judgement struct {
	class     byte // the latest judgement (syncdoc.JudgedSpam, …); 0 when none
	at        int64
	device    string
	spam, ham int // the message's trainings summed over every device
}

// target is the net trainings a judgement asks for: one of its class,
// none for JudgedNeither.
func target(class byte) (spam, ham int) {
	switch class {
	case syncdoc.JudgedSpam:
		return 1, 0
	case syncdoc.JudgedHam:
		return 0, 1
	}
	return 0, 0
}

// judgementOf sums every device's entry for key; the caller holds f.mu.
func (f *spamFilter) judgementOf(key, self string) judgement {
	var j judgement
	add := func(device string, e syncdoc.SpamEntry, ok bool) {
		if !ok {
			return
		}
		j.spam, j.ham = j.spam+int(e.Spam), j.ham+int(e.Ham)
		// The later stamp wins (docs/spec/sync.md §6).
		if j.class == 0 || e.At > j.at || e.At == j.at && device > j.device {
			j.class, j.at, j.device = e.Judged, e.At, device
		}
	}
	e, ok := f.own[key]
	add(self, e, ok)
	for _, c := range f.others {
		e, ok := c.entries[key]
		add(c.device, e, ok)
	}
	return j
}

// settle makes e (with its Judged and At) this device's entry for e.Key,
// its counts chosen so that every device's entries for the key sum to
// the judgement's target, and trains (plus) or takes back (minus) tokens
// for the difference to its old entry. Setting the same entry twice
// changes nothing, so a retried or repeated settle never counts twice.
// The caller holds f.mu and recombines the model.
func (f *spamFilter) settle(e syncdoc.SpamEntry, self string, tokens []string) error {
	j := f.judgementOf(e.Key, self)
	old := f.own[e.Key]
	ts, th := target(e.Judged)
	spam, ham := ts-(j.spam-int(old.Spam)), th-(j.ham-int(old.Ham))
	if spam < -128 || spam > 127 || ham < -128 || ham > 127 {
		return fmt.Errorf("spam: message %s: entry of %d spam, %d ham is out of range", e.Key, spam, ham)
	}
	e.Spam, e.Ham = int8(spam), int8(ham)
	f.apply(tokens, true, spam-int(old.Spam))
	f.apply(tokens, false, ham-int(old.Ham))
	f.own[e.Key] = e
	f.changed.Store(true)
	return nil
}

// apply trains tokens n times as the class, or takes them back -n times.
func (f *spamFilter) apply(tokens []string, isSpam bool, n int) {
	m := f.plus
	if n < 0 {
		m, n = f.minus, -n
	}
	for range n {
		m.Train(tokens, isSpam)
	}
}

// judge makes class the account's word on message m at time at and
// takes back the training of every other copy of it (copies holds the
// keys of the local messages of the same content, and the message a
// COPY then EXPUNGE left): a judgement is of the message, whatever
// mailboxes it was copied to (docs/spec/sync.md §5.6).
func (b *Bridge) judge(ctx context.Context, m mailstore.Message, class byte, at int64, copies []string) error {
	mime, err := b.store.Content(ctx, m.ContentID)
	if err != nil {
		return fmt.Errorf("spam: message %s: %w", m.Key, err)
	}
	an, err := mailtext.Analyze(mime, spamLimits)
	if err != nil {
		b.log.Info("spam: message not trained", "key", m.Key, "err", err)
		return nil
	}
	tokens, self := an.Tokens(), b.cfg.DeviceID
	f := b.spam
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.combine()
	for _, k := range copies {
		if k == m.Key || f.judgementOf(k, self).class == 0 {
			continue // never judged: nothing to take back
		}
		if err := f.settle(syncdoc.SpamEntry{Key: k, At: at, Judged: syncdoc.JudgedNeither}, self, tokens); err != nil {
			return err
		}
	}
	return f.settle(syncdoc.SpamEntry{Key: m.Key, At: at, Judged: class}, self, tokens)
}

// reconcile settles again every message whose latest judgement is this
// device's but whose summed entries are not what it asks for: another
// device trained or took it back at the same time, not knowing of this
// judgement. Only the device of the latest judgement corrects, so two
// devices never correct the same message twice; it corrects with its own
// counts, since it is the only writer of those.
func (b *Bridge) reconcile(ctx context.Context) error {
	f, self := b.spam, b.cfg.DeviceID
	f.mu.Lock()
	var off []syncdoc.SpamEntry
	for k, e := range f.own {
		j := f.judgementOf(k, self)
		if ts, th := target(j.class); j.device == self && (j.spam != ts || j.ham != th) {
			off = append(off, e)
		}
	}
	f.mu.Unlock()
	for _, e := range off {
		m, err := b.store.ByKey(ctx, e.Key)
		if errors.Is(err, mailstore.ErrNotFound) {
			continue // expunged here: its tokens are gone, and nothing will judge it again
		}
		if err != nil {
			return fmt.Errorf("spam: reconcile %s: %w", e.Key, err)
		}
		mime, err := b.store.Content(ctx, m.ContentID)
		if err != nil {
			return fmt.Errorf("spam: reconcile %s: %w", e.Key, err)
		}
		an, err := mailtext.Analyze(mime, spamLimits)
		if err != nil {
			continue // never trained here either
		}
		f.mu.Lock()
		if f.judgementOf(e.Key, self).device == self { // still the latest
			err = f.settle(f.own[e.Key], self, an.Tokens())
			f.combine()
		}
		f.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// legacyRecords adds to this device's entries the per-message records
// that versions before the ledger kept in the state table ("s" or "h"
// under spamMsgState), as judgements of long ago, so that their training
// can still be taken back. loadSpam calls it before the filter is in use.
func (b *Bridge) legacyRecords(ctx context.Context) error {
	names, err := b.store.StateNames(ctx, spamMsgState)
	if err != nil {
		return fmt.Errorf("bridge: spam: %w", err)
	}
	for _, name := range names {
		key := name[len(spamMsgState):]
		if _, ok := b.spam.own[key]; ok || syncdoc.CheckKey(key) != nil {
			continue
		}
		v, err := b.store.GetState(ctx, name)
		if err != nil {
			return fmt.Errorf("bridge: spam: %w", err)
		}
		switch trainRecord(v) {
		case trainedSpam:
			b.spam.own[key] = syncdoc.SpamEntry{Key: key, Judged: syncdoc.JudgedSpam, Spam: 1}
		case trainedHam:
			b.spam.own[key] = syncdoc.SpamEntry{Key: key, Judged: syncdoc.JudgedHam, Ham: 1}
		}
	}
	return nil
}

// contentIndex finds the local messages that share a content, which is
// what a COPY leaves (mailstore.Store.Copy stores the content once). It
// is read once per training batch, when a job first needs it.
type contentIndex struct {
	boxes     []mailstore.Mailbox
	byContent map[int64][]mailstore.Message
}

// copiesOf lists the messages of contentID, in no mailbox order.
func (x *contentIndex) copiesOf(ctx context.Context, s *mailstore.Store, contentID int64) ([]mailstore.Message, error) {
	if x.byContent == nil {
		x.byContent = map[int64][]mailstore.Message{}
		for _, mb := range x.boxes {
			list, err := s.List(ctx, mb.ID)
			if err != nil {
				return nil, fmt.Errorf("spam: copies: %w", err)
			}
			for _, m := range list {
				x.byContent[m.ContentID] = append(x.byContent[m.ContentID], m)
			}
		}
	}
	return x.byContent[contentID], nil
}
