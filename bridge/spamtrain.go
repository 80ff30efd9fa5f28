package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
)

// trainQueue bounds the training work waiting for the trainer. The
// store's event callback must not block (it runs under the write lock),
// so a job that finds the queue full is dropped and counted
// (SpamStatus.DroppedUpdates); a mail client moving thousands of messages
// at once still trains the first thousands.
const trainQueue = 4096

// trainJob is one user action the trainer looks at.
type trainJob struct {
	mailboxID int64
	uid       uint32
	flags     []string
	fromID    int64 // MessageAdded by a move: the mailbox it left
	// expunged: a MessageExpunged by EXPUNGE (not by a move), the key
	// and content of the message it removed from mailboxID. When a copy
	// of it lives on, the COPY and the EXPUNGE were a move.
	expunged  string
	contentID int64
}

// Keywords a mail client sets to say a message is or is not spam (RFC
// 5788's registry: $Junk, $NotJunk).
const (
	keywordJunk    = "$Junk"
	keywordNotJunk = "$NotJunk"
)

// pullActor marks the sync engine's own writes (WithActor), which train
// nothing: mail it files into Junk was classified, not judged by the user,
// and another device's moves train that device's counts.
type pullActorKey struct{}

var pullActor = &pullActorKey{}

// trainRecord is kept in the state table under spamMsgState+key: "j"
// for a message the filter filed into Junk (pull.go), which a move out
// trains as ham. Versions before the ledger (spamjudge.go) kept "s" and
// "h" there too for what this device trained; loadSpam reads those.
type trainRecord string

const (
	trainedSpam  trainRecord = "s"
	trainedHam   trainRecord = "h"
	filedAsSpam  trainRecord = "j" // filed into Junk by the filter, not trained
	trainerBatch             = 256
)

// subscribeSpam turns the user's actions in the store into training jobs.
// It runs under the store's write lock, so it only queues: a move is an
// expunge without a key from the old mailbox immediately followed by the
// add to the new one in the same commit (mailstore.Move), which is how it
// learns where a message came from. An EXPUNGE's event names the message
// it removed, which the trainer looks for copies of (COPY then EXPUNGE is
// a move too).
func (b *Bridge) subscribeSpam() (cancel func()) {
	var lastExpunged int64
	return b.store.Subscribe(func(ev mailstore.Event) {
		user := ev.Origin == mailstore.Local && ev.Actor != pullActor
		from := lastExpunged
		lastExpunged = 0
		if !user {
			return
		}
		judged := slices.Contains(ev.Flags, keywordJunk) || slices.Contains(ev.Flags, keywordNotJunk)
		job := trainJob{mailboxID: ev.MailboxID, uid: ev.UID, flags: ev.Flags, fromID: from}
		switch ev.Kind {
		case mailstore.MessageExpunged:
			if ev.Key == "" {
				lastExpunged = ev.MailboxID // a move's: the add follows
				return
			}
			job = trainJob{mailboxID: ev.MailboxID, expunged: ev.Key, contentID: ev.ContentID}
		case mailstore.MessageAdded:
		case mailstore.FlagsChanged:
			if !judged {
				return // \Seen from reading and the like: not a judgement, and many
			}
		default:
			return
		}
		if ev.Kind == mailstore.MessageAdded && from == 0 && !judged {
			// A new message from a client (APPEND, COPY) outside Junk is
			// not a judgement; one into Junk is, and the trainer checks
			// the mailbox.
			job.fromID = -1
		}
		select {
		case b.spam.queue <- job:
		default:
			b.spam.dropped.Add(1)
		}
	})
}

// spamLoop trains from the queued jobs (subscribeSpam queues them), saves this device's counts after
// each batch and pushes them to its spam document, retrying a failed push
// every minute.
func (b *Bridge) spamLoop(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		var jobs []trainJob
		select {
		case <-ctx.Done():
			return
		case j := <-b.spam.queue:
			jobs = append(jobs, j)
		drain:
			for len(jobs) < trainerBatch {
				select {
				case j := <-b.spam.queue:
					jobs = append(jobs, j)
				default:
					break drain
				}
			}
		case <-tick.C:
		}
		if len(jobs) > 0 || b.spam.stale.Load() {
			if err := b.train(ctx, jobs); err != nil && ctx.Err() == nil {
				b.log.Warn("spam: training", "err", err)
			}
		}
		if err := b.pushSpam(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("spam: push", "err", err)
		}
	}
}

// train applies jobs, settles what other devices' documents left off
// (reconcile) and saves the counts once for all of it.
func (b *Bridge) train(ctx context.Context, jobs []trainJob) error {
	boxes, err := b.store.Mailboxes(ctx)
	if err != nil {
		return err
	}
	use := map[int64]string{}
	for _, mb := range boxes {
		use[mb.ID] = mb.SpecialUse
	}
	copies := &contentIndex{boxes: boxes}
	for _, j := range jobs {
		if err := b.trainOne(ctx, j, use, copies); err != nil {
			return err
		}
	}
	if b.spam.stale.Swap(false) {
		if err := b.reconcile(ctx); err != nil {
			b.spam.stale.Store(true)
			return err
		}
	}
	if !b.spam.changed.Swap(false) {
		return nil
	}
	if err := b.saveSpam(ctx); err != nil {
		b.spam.changed.Store(true) // saved with the next batch
		return err
	}
	return nil
}

// trainOne decides what a job means (docs/spec/spam.md §3) and trains:
// into Junk or $Junk is spam; out of Junk into anything but Trash, or
// $NotJunk, is ham — and ham only for a message the account had as spam
// (trained, or filed here), since a move out of Junk says the filter or
// the user was wrong about it. Reading or leaving mail in INBOX trains
// nothing: silence is not a judgement. A COPY then EXPUNGE is the move
// from the expunged message's mailbox to its copy's.
func (b *Bridge) trainOne(ctx context.Context, j trainJob, use map[int64]string, copies *contentIndex) error {
	inJunk := use[j.mailboxID] == mailstore.Junk
	judged := slices.Contains(j.flags, keywordJunk) || slices.Contains(j.flags, keywordNotJunk)
	var m mailstore.Message
	switch {
	case j.expunged != "":
		// Only a message out of Junk, or one judged or filed, can make
		// a judgement of its copy; a COPY with $Junk or $NotJunk or into
		// Junk judged it already. That spares looking for copies of
		// every message deleted.
		gone, filed, _, err := b.wasJudged(ctx, "", j.expunged)
		if err != nil || use[j.mailboxID] == mailstore.Trash || use[j.mailboxID] != mailstore.Junk && gone == 0 && !filed {
			return err
		}
		live, err := copies.copiesOf(ctx, b.store, j.contentID)
		if err != nil || len(live) == 0 {
			return err // deleted, not moved
		}
		// The copy outside Trash, if there is one, is where it went.
		i := max(0, slices.IndexFunc(live, func(c mailstore.Message) bool { return use[c.MailboxID] != mailstore.Trash }))
		m, j.fromID = live[i], j.mailboxID
		inJunk = use[m.MailboxID] == mailstore.Junk
	case !inJunk && !judged && j.fromID <= 0:
		return nil // a message appended or copied outside Junk: nothing to look up
	default:
		var err error
		m, err = b.messageAt(ctx, j.mailboxID, j.uid)
		if errors.Is(err, mailstore.ErrNotFound) {
			return nil // gone again before the trainer came to it
		}
		if err != nil {
			return err
		}
	}
	was, filed, left, err := b.wasJudged(ctx, m.Key, j.expunged)
	if err != nil {
		return err
	}
	var want byte
	switch {
	case slices.Contains(m.Flags, keywordNotJunk):
		want = syncdoc.JudgedHam
	case slices.Contains(m.Flags, keywordJunk), inJunk && j.fromID != 0:
		want = syncdoc.JudgedSpam
	case j.fromID > 0 && use[j.fromID] == mailstore.Junk && use[m.MailboxID] != mailstore.Trash,
		j.fromID > 0 && (was == syncdoc.JudgedSpam || filed) && use[m.MailboxID] != mailstore.Trash && !inJunk:
		want = syncdoc.JudgedHam
	default:
		return nil
	}
	if want == was && !left {
		return nil
	}
	others, err := copies.copiesOf(ctx, b.store, m.ContentID)
	if err != nil {
		return err
	}
	var keys []string
	if j.expunged != "" {
		keys = append(keys, j.expunged)
	}
	for _, c := range others {
		keys = append(keys, c.Key)
	}
	return b.judge(ctx, m, want, b.now().UnixMilli(), keys)
}

// wasJudged is the account's latest judgement of the message key (0 if
// none), or else of the message a COPY then EXPUNGE left (expunged);
// whether the filter filed either into Junk; and whether the expunged
// one is still judged spam or ham, a training that must move to its copy
// even when the copy was judged alike (when COPY judged it, say).
func (b *Bridge) wasJudged(ctx context.Context, key, expunged string) (was byte, filed, left bool, err error) {
	f := b.spam
	f.mu.Lock()
	was = f.judgementOf(key, b.cfg.DeviceID).class
	if expunged != "" {
		gone := f.judgementOf(expunged, b.cfg.DeviceID).class
		left = gone == syncdoc.JudgedSpam || gone == syncdoc.JudgedHam
		if was == 0 {
			was = gone
		}
	}
	f.mu.Unlock()
	for _, k := range []string{key, expunged} {
		if k == "" {
			continue
		}
		rec, err := b.store.GetState(ctx, spamMsgState+k)
		if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
			return 0, false, false, fmt.Errorf("spam: %w", err)
		}
		filed = filed || trainRecord(rec) == filedAsSpam
	}
	return was, filed, left, nil
}

// messageAt finds the message with uid in a mailbox.
func (b *Bridge) messageAt(ctx context.Context, mailboxID int64, uid uint32) (mailstore.Message, error) {
	list, err := b.store.List(ctx, mailboxID)
	if err != nil {
		return mailstore.Message{}, err
	}
	i, ok := slices.BinarySearchFunc(list, uid, func(m mailstore.Message, uid uint32) int { return int(int64(m.UID) - int64(uid)) })
	if !ok {
		return mailstore.Message{}, mailstore.ErrNotFound
	}
	return list[i], nil
}
