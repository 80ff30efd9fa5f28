package bridge

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/mailtext"
	"umbra/spam"
)

// testClock is every test bridge's clock: a millisecond later at each
// reading, so that of two judgements the later is never a tie.
var testMillis atomic.Int64

func testClock() time.Time { return time.UnixMilli(1_765_000_000_000 + testMillis.Add(1)) }

// trainBridge is a Bridge on a new store with its spam filter subscribed
// to the store; the test trains what is queued with trainQueued, so no
// trainer goroutine runs and nothing waits.
func trainBridge(t *testing.T, device string) *Bridge {
	t.Helper()
	return openTrainBridge(t, device, filepath.Join(t.TempDir(), StoreFile))
}

// openTrainBridge is trainBridge on the store at path, new or again.
func openTrainBridge(t *testing.T, device, path string) *Bridge {
	t.Helper()
	b := &Bridge{store: openTestStore(t, path), cfg: Config{DeviceID: device, Now: testClock}, log: slog.Default()}
	t.Cleanup(func() { b.store.Close() })
	if err := b.loadSpam(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.subscribeSpam())
	return b
}

// trainQueued trains every job queued so far, as one batch of the trainer.
func trainQueued(t *testing.T, b *Bridge) {
	t.Helper()
	var jobs []trainJob
	for len(b.spam.queue) > 0 {
		jobs = append(jobs, <-b.spam.queue)
	}
	if err := b.train(context.Background(), jobs); err != nil {
		t.Fatal(err)
	}
}

// judgeMessage is a message of its own tokens, numbered n.
func judgeMessage(n int) []byte {
	return fmt.Appendf(nil, "Subject: message %d\r\n\r\nword%d other%d text%d\r\n", n, n, n, n)
}

// addMessage adds message n to mailbox with key as the user would
// (origin local, like an APPEND) or as the sync engine (remote); it
// returns the stored message.
func addMessage(t *testing.T, b *Bridge, key, mailbox string, n int, origin mailstore.Origin) mailstore.Message {
	t.Helper()
	m, _, err := b.store.Add(context.Background(), mailstore.NewMessage{Key: key, Mailbox: mailbox, MIME: judgeMessage(n)}, origin)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wantModel fails unless b's summed model is exactly the one trained
// with messages spam and ham, each once.
func wantModel(t *testing.T, what string, b *Bridge, spamN, hamN []int) {
	t.Helper()
	want := spam.New()
	for i, list := range [][]int{spamN, hamN} {
		for _, n := range list {
			an, err := mailtext.Analyze(judgeMessage(n), spamLimits)
			if err != nil {
				t.Fatal(err)
			}
			want.Train(an.Tokens(), i == 0)
		}
	}
	w, _ := spam.Combine([]*spam.Model{want}, nil).MarshalBinary()
	got, _ := b.spam.model.Load().MarshalBinary()
	if !bytes.Equal(got, w) {
		s, h := b.spam.model.Load().Messages()
		t.Errorf("%s: model of %d spam, %d ham; want spam %v, ham %v once each", what, s, h, spamN, hamN)
	}
}

// syncSpam gives to's filter from's spam document, as the feed would.
func syncSpam(t *testing.T, from, to *Bridge) {
	t.Helper()
	plain, err := getBlob(context.Background(), from.store, spamOwnState)
	if err != nil {
		t.Fatal(err)
	}
	if err := to.applySpam(context.Background(), syncdoc.SpamID(from.cfg.DeviceID), plain); err != nil {
		t.Fatal(err)
	}
	trainQueued(t, to)
}

// TestSpamCopyExpunge (issue 14): a client without MOVE copies a message
// and expunges the original; that trains exactly as the move would.
// Each case runs once with Move and once with Copy, \Deleted and
// Expunge, and both must end with the same model.
func TestSpamCopyExpunge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type setup struct {
		path  []string // the mailboxes the user moved it to from INBOX
		flags []string // then set by the user
		filed bool     // filed into Junk by the filter instead
	}
	for _, c := range []struct {
		name      string
		setup     setup
		to        string
		spam, ham []int
	}{
		{"out of Junk, trained spam", setup{path: []string{"Junk"}}, "INBOX", nil, []int{1}},
		{"out of Junk, filed by the filter", setup{filed: true}, "Archive", nil, []int{1}},
		{"into Junk, trained ham", setup{path: []string{"Junk", "INBOX"}}, "Junk", []int{1}, nil},
		{"into Junk, untrained", setup{}, "Junk", []int{1}, nil},
		{"Junk to Trash", setup{path: []string{"Junk"}}, "Trash", []int{1}, nil},
		{"Archive to INBOX", setup{path: []string{"Archive"}}, "INBOX", nil, nil},
		{"$Junk, to Archive", setup{flags: []string{keywordJunk}}, "Archive", []int{1}, nil},
		{"$NotJunk, into Junk", setup{flags: []string{keywordNotJunk}}, "Junk", nil, []int{1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, copying := range []bool{false, true} {
				b := trainBridge(t, "devA")
				key := syncdoc.NewKey()
				var m mailstore.Message
				if c.setup.filed {
					m = addMessage(t, b, key, "Junk", 1, mailstore.Remote)
					if err := b.store.SetState(ctx, spamMsgState+key, []byte(filedAsSpam)); err != nil {
						t.Fatal(err)
					}
				} else {
					// Delivered to INBOX, then where the user put it.
					m = addMessage(t, b, key, mailstore.Inbox, 1, mailstore.Remote)
					for _, to := range c.setup.path {
						m = move(t, b, m, to, mailstore.Local)
					}
					var err error
					if m, err = b.store.SetFlags(ctx, m.ID, c.setup.flags, mailstore.Local); err != nil {
						t.Fatal(err)
					}
				}
				trainQueued(t, b)
				if copying {
					if _, err := b.store.Copy(ctx, m.ID, c.to, syncdoc.NewKey(), mailstore.Local); err != nil {
						t.Fatal(err)
					}
					if _, err := b.store.SetFlags(ctx, m.ID, append(m.Flags, `\Deleted`), mailstore.Local); err != nil {
						t.Fatal(err)
					}
					if err := b.store.Expunge(ctx, m.ID, mailstore.Local); err != nil {
						t.Fatal(err)
					}
				} else if _, err := b.store.Move(ctx, m.ID, c.to, mailstore.Local); err != nil {
					t.Fatal(err)
				}
				trainQueued(t, b)
				wantModel(t, fmt.Sprintf("copying %v", copying), b, c.spam, c.ham)
			}
		})
	}
}

// TestSpamExpungeThenAppend: an EXPUNGE in Junk followed by an APPEND
// elsewhere, in commits of their own, is not a move out of Junk; only a
// move's expunge (without a key) pairs with the add after it.
func TestSpamExpungeThenAppend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := trainBridge(t, "devA")
	m := addMessage(t, b, syncdoc.NewKey(), "Junk", 1, mailstore.Remote)
	if err := b.store.Expunge(ctx, m.ID, mailstore.Local); err != nil {
		t.Fatal(err)
	}
	addMessage(t, b, syncdoc.NewKey(), mailstore.Inbox, 2, mailstore.Local)
	trainQueued(t, b)
	wantModel(t, "deleted, then appended", b, nil, nil)
}

// TestSpamCopyKeepsOriginal: a copy into Junk is a judgement of spam of
// the message (every copy of it); the original kept in INBOX and then
// moved into Junk as well, or expunged, does not train it again.
func TestSpamCopyKeepsOriginal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := trainBridge(t, "devA")
	m := addMessage(t, b, syncdoc.NewKey(), mailstore.Inbox, 1, mailstore.Remote)
	cp, err := b.store.Copy(ctx, m.ID, "Junk", syncdoc.NewKey(), mailstore.Local)
	if err != nil {
		t.Fatal(err)
	}
	trainQueued(t, b)
	wantModel(t, "copied into Junk", b, []int{1}, nil)
	if _, err := b.store.Move(ctx, m.ID, "Junk", mailstore.Local); err != nil {
		t.Fatal(err)
	}
	trainQueued(t, b)
	wantModel(t, "the original moved into Junk too", b, []int{1}, nil)
	if err := b.store.Expunge(ctx, cp.ID, mailstore.Local); err != nil {
		t.Fatal(err)
	}
	trainQueued(t, b)
	wantModel(t, "the copy expunged", b, []int{1}, nil)
}

// twoDevices is one message, number 1 with one key, on two synced
// devices, in INBOX on both.
func twoDevices(t *testing.T) (a, b *Bridge, ma, mb mailstore.Message) {
	a, b = trainBridge(t, "devA"), trainBridge(t, "devB")
	key := syncdoc.NewKey()
	return a, b, addMessage(t, a, key, mailstore.Inbox, 1, mailstore.Remote), addMessage(t, b, key, mailstore.Inbox, 1, mailstore.Remote)
}

// move moves m as the user (local) or as the sync engine applying
// another device's move (remote, pullActor) and trains what that queued.
func move(t *testing.T, b *Bridge, m mailstore.Message, to string, origin mailstore.Origin) mailstore.Message {
	t.Helper()
	ctx := context.Background()
	if origin == mailstore.Remote {
		ctx = mailstore.WithActor(ctx, pullActor)
	}
	m, err := b.store.Move(ctx, m.ID, to, origin)
	if err != nil {
		t.Fatal(err)
	}
	trainQueued(t, b)
	return m
}

// TestSpamTakeBackAcrossDevices (issue 14): device A's user moves a
// message into Junk (A trains spam); device B, synced, sees it in Junk
// and its user moves it out: B takes back A's training in its own minus
// and trains ham, so both devices' summed models hold the message once,
// as ham — and stay so however often the documents are applied again.
func TestSpamTakeBackAcrossDevices(t *testing.T) {
	t.Parallel()
	a, b, ma, mb := twoDevices(t)
	ma = move(t, a, ma, "Junk", mailstore.Local)
	wantModel(t, "A trained", a, []int{1}, nil)
	syncSpam(t, a, b)
	mb = move(t, b, mb, "Junk", mailstore.Remote)
	wantModel(t, "B has A's training", b, []int{1}, nil)

	move(t, b, mb, mailstore.Inbox, mailstore.Local)
	syncSpam(t, b, a)
	move(t, a, ma, mailstore.Inbox, mailstore.Remote)
	for range 2 {
		wantModel(t, "B's word, on B", b, nil, []int{1})
		wantModel(t, "B's word, on A", a, nil, []int{1})
		syncSpam(t, a, b)
		syncSpam(t, b, a)
	}
	// A's user changes their mind again: A takes back B's ham.
	move(t, a, ma, "Junk", mailstore.Local)
	syncSpam(t, a, b)
	wantModel(t, "A's word again, on A", a, []int{1}, nil)
	wantModel(t, "A's word again, on B", b, []int{1}, nil)
}

// TestSpamConcurrentTakeBack: both devices take back the same training
// before either sees the other's document. Once they have, the device
// whose judgement is the later corrects its own counts, so the sum holds
// the message once again.
func TestSpamConcurrentTakeBack(t *testing.T) {
	t.Parallel()
	a, b, ma, mb := twoDevices(t)
	ma = move(t, a, ma, "Junk", mailstore.Local)
	syncSpam(t, a, b)
	mb = move(t, b, mb, "Junk", mailstore.Remote)
	// Offline from each other, both users move it out of Junk.
	move(t, a, ma, mailstore.Inbox, mailstore.Local)
	move(t, b, mb, "Archive", mailstore.Local)
	syncSpam(t, a, b)
	syncSpam(t, b, a)
	syncSpam(t, a, b) // the correction, wherever it was made, reaches the other
	for _, d := range []*Bridge{a, b} {
		wantModel(t, d.cfg.DeviceID, d, nil, []int{1})
	}
}

// TestSpamLedgerSurvivesRestart: this device's entries are saved with
// its counts, so after a restart a take-back still knows what to take
// back, and the per-message records of versions before the ledger are
// read as entries.
func TestSpamLedgerSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), StoreFile)
	b := openTrainBridge(t, "devA", path)
	m := move(t, b, addMessage(t, b, syncdoc.NewKey(), mailstore.Inbox, 1, mailstore.Remote), "Junk", mailstore.Local)
	// A message this device trained as ham before the ledger: its
	// record, and its training in the counts.
	old := addMessage(t, b, syncdoc.NewKey(), "Archive", 2, mailstore.Remote)
	if err := b.store.SetState(ctx, spamMsgState+old.Key, []byte(trainedHam)); err != nil {
		t.Fatal(err)
	}
	an, err := mailtext.Analyze(judgeMessage(2), spamLimits)
	if err != nil {
		t.Fatal(err)
	}
	b.spam.plus.Train(an.Tokens(), false)
	if err := b.saveSpam(ctx); err != nil {
		t.Fatal(err)
	}
	b.store.Close()

	b = openTrainBridge(t, "devA", path)
	wantModel(t, "after a restart", b, []int{1}, []int{2})
	move(t, b, m, mailstore.Inbox, mailstore.Local)
	move(t, b, old, "Junk", mailstore.Local)
	wantModel(t, "both judged again", b, []int{2}, []int{1})
}
