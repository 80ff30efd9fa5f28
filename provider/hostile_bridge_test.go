package provider_test

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"slices"
	"sync"
	"testing"
	"time"

	"umbra/bridge/mailstore"
	"umbra/testnet"
)

// The legitimate side of TestHostileLoad: alice@a.test sends at a steady
// rate (pacedSubmit) while bob's bridge, enrolled as a device of bob's at
// the provider under attack, syncs (syncingBridge). A message's latency is
// from alice's submission to bob's bridge holding it: everything a user
// waits for, through a.test's queue, the DMTP delivery into b.test and the
// DMAP long-poll and download.

// syncingBridge starts a bridge of bob's at w.b (running in a child
// process) and records when each message arrives in its INBOX.
func syncingBridge(t *testing.T, w *world) *arrivals {
	t.Helper()
	ctx := t.Context()
	br := openBridge(t, w.net, w.b, t.TempDir(), newDeviceKeys(t, w.bob), nil)
	a := &arrivals{store: br.Store(), at: map[uint32]time.Time{}}
	inbox, err := a.store.Mailbox(ctx, mailstore.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	cancel := a.store.Subscribe(func(ev mailstore.Event) {
		if ev.Kind == mailstore.MessageAdded && ev.MailboxID == inbox.ID {
			a.mu.Lock()
			a.at[ev.UID] = time.Now()
			a.mu.Unlock()
		}
	})
	t.Cleanup(cancel)
	a.inbox = inbox.ID
	if err := br.Start(); err != nil {
		t.Fatal(err)
	}
	return a
}

// arrivals are the times bob's bridge added messages to its INBOX.
type arrivals struct {
	store *mailstore.Store
	inbox int64
	mu    sync.Mutex
	at    map[uint32]time.Time // by UID
}

// wait waits up to d for n messages.
func (a *arrivals) wait(t *testing.T, n int, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		a.mu.Lock()
		got := len(a.at)
		a.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's bridge has %d of %d messages after %v", got, n, d)
		}
	}
}

// latencies matches the arrivals to the submissions by subject and
// returns each message's latency, sorted.
func (a *arrivals) latencies(t *testing.T, sent map[string]time.Time) []time.Duration {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []time.Duration
	err := a.store.EachMessage(t.Context(), a.inbox, func(m mailstore.Message, mime []byte) error {
		msg, err := mail.ReadMessage(bytes.NewReader(mime))
		if err != nil {
			return err
		}
		subject := msg.Header.Get("Subject")
		at, ok := sent[subject]
		if !ok {
			return fmt.Errorf("bob's bridge holds %q, which alice did not send", subject)
		}
		out = append(out, a.at[m.UID].Sub(at))
		delete(sent, subject) // a second copy is reported as not sent
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// pacedSubmit has alice submit n messages to bob at rate a second, each
// on time whatever the others take (at most 16 in flight), and returns
// when each was handed to a.test, by subject.
func pacedSubmit(t *testing.T, w *world, n int, rate float64) map[string]time.Time {
	t.Helper()
	var (
		mu    sync.Mutex
		sent  = map[string]time.Time{}
		wg    sync.WaitGroup
		errs  = make(chan error, n)
		slots = make(chan struct{}, 16)
	)
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			subject := fmt.Sprintf("message %d", i)
			msg, err := testnet.Seal(w.alice, w.a, w.bob, w.b, mimeMessage(subject, "body"))
			if err != nil {
				errs <- err
				return
			}
			at := time.Now()
			if _, err := w.a.Provider.Submit(context.Background(), w.alice.Address, bytes.NewReader(msg), int64(len(msg))); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			sent[subject] = at
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return sent
}
