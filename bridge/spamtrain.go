package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"umbra/bridge/mailstore"
	"umbra/mailtext"
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

// trainRecord is what this device did with a message, kept in the state
// table under spamMsgState+key so a later move knows what to take back.
type trainRecord string

const (
	trainedNone  trainRecord = ""
	trainedSpam  trainRecord = "s"
	trainedHam   trainRecord = "h"
	filedAsSpam  trainRecord = "j" // filed into Junk by the filter, not trained
	trainerBatch             = 256
)

// subscribeSpam turns the user's actions in the store into training jobs.
// It runs under the store's write lock, so it only queues: a move is an
// expunge from the old mailbox immediately followed by the add to the new
// one in the same commit (mailstore.Move), which is how it learns where a
// message came from.
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
		switch ev.Kind {
		case mailstore.MessageExpunged:
			lastExpunged = ev.MailboxID
			return
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
			from = -1
		}
		select {
		case b.spam.queue <- trainJob{mailboxID: ev.MailboxID, uid: ev.UID, flags: ev.Flags, fromID: from}:
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
		if len(jobs) > 0 {
			if err := b.train(ctx, jobs); err != nil && ctx.Err() == nil {
				b.log.Warn("spam: training", "err", err)
			}
		}
		if err := b.pushSpam(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("spam: push", "err", err)
		}
	}
}

// train applies jobs and saves the counts once for all of them.
func (b *Bridge) train(ctx context.Context, jobs []trainJob) error {
	boxes, err := b.store.Mailboxes(ctx)
	if err != nil {
		return err
	}
	use := map[int64]string{}
	for _, mb := range boxes {
		use[mb.ID] = mb.SpecialUse
	}
	changed := false
	for _, j := range jobs {
		ok, err := b.trainOne(ctx, j, use)
		if err != nil {
			return err
		}
		changed = changed || ok
	}
	if !changed {
		return nil
	}
	return b.saveSpam(ctx)
}

// trainOne decides what a job means (docs/spec/spam.md §3) and trains:
// into Junk or $Junk is spam; out of Junk into anything but Trash, or
// $NotJunk, is ham — and ham only for a message this device had as spam
// (trained or filed), since a move out of Junk says the filter or the
// user was wrong about it. Reading or leaving mail in INBOX trains
// nothing: silence is not a judgement.
func (b *Bridge) trainOne(ctx context.Context, j trainJob, use map[int64]string) (bool, error) {
	inJunk := use[j.mailboxID] == mailstore.Junk
	judged := slices.Contains(j.flags, keywordJunk) || slices.Contains(j.flags, keywordNotJunk)
	if !inJunk && !judged && j.fromID <= 0 {
		return false, nil // a message appended or copied outside Junk: nothing to look up
	}
	m, err := b.messageAt(ctx, j.mailboxID, j.uid)
	if errors.Is(err, mailstore.ErrNotFound) {
		return false, nil // gone again before the trainer came to it
	}
	if err != nil {
		return false, err
	}
	rec, err := b.store.GetState(ctx, spamMsgState+m.Key)
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return false, err
	}
	was := trainRecord(rec)
	var want trainRecord
	switch {
	case slices.Contains(m.Flags, keywordNotJunk):
		want = trainedHam
	case slices.Contains(m.Flags, keywordJunk), inJunk && j.fromID != 0:
		want = trainedSpam
	case j.fromID > 0 && use[j.fromID] == mailstore.Junk && use[j.mailboxID] != mailstore.Trash,
		j.fromID > 0 && (was == trainedSpam || was == filedAsSpam) && use[j.mailboxID] != mailstore.Trash && !inJunk:
		want = trainedHam
	default:
		return false, nil
	}
	if want == was {
		return false, nil
	}
	mime, err := b.store.Content(ctx, m.ContentID)
	if err != nil {
		return false, err
	}
	an, err := mailtext.Analyze(mime, spamLimits)
	if err != nil {
		b.log.Info("spam: message not trained", "key", m.Key, "err", err)
		return false, nil
	}
	tokens := an.Tokens()
	f := b.spam
	f.mu.Lock()
	switch was {
	case trainedSpam:
		f.minus.Train(tokens, true)
	case trainedHam:
		f.minus.Train(tokens, false)
	}
	f.plus.Train(tokens, want == trainedSpam)
	f.combine()
	f.mu.Unlock()
	if err := b.store.SetState(ctx, spamMsgState+m.Key, []byte(want)); err != nil {
		return false, fmt.Errorf("spam: record training: %w", err)
	}
	return true, nil
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
