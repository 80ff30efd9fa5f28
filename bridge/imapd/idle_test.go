package imapd

import (
	"context"
	"crypto/rand"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"umbra/bridge/mailstore"
)

// updates records the unsolicited responses a client receives.
type updates struct {
	mu       sync.Mutex
	exists   []uint32
	expunged []uint32
	flags    map[uint32][]imap.Flag // by sequence number
}

func newUpdates() (*updates, *imapclient.Options) {
	u := &updates{flags: map[uint32][]imap.Flag{}}
	return u, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				u.mu.Lock()
				u.exists = append(u.exists, *d.NumMessages)
				u.mu.Unlock()
			}
		},
		Expunge: func(seq uint32) {
			u.mu.Lock()
			u.expunged = append(u.expunged, seq)
			u.mu.Unlock()
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			buf, err := m.Collect()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.flags[buf.SeqNum] = withoutRecent(buf.Flags)
			u.mu.Unlock()
		},
	}}
}

func (u *updates) get() (exists, expunged []uint32, flags map[uint32][]imap.Flag) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.exists), slices.Clone(u.expunged), maps.Clone(u.flags)
}

func TestIdleSeesSyncEngineChanges(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	first := e.add(t, "INBOX", "first", "1", mailstore.Remote)
	u, opts := newUpdates()
	c := e.selectBox(t, "INBOX", opts)

	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	// New mail from the provider, added by the sync engine.
	added := make(chan error, 1)
	go func() { added <- pushMsg(e.store, "second") }()
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "EXISTS 2", func() bool { ex, _, _ := u.get(); return slices.Contains(ex, 2) })

	// A flag set on another device.
	if _, err := e.store.SetFlags(context.Background(), first.ID, []string{`\Flagged`}, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "FETCH 1 FLAGS", func() bool { _, _, f := u.get(); return slices.Equal(f[1], []imap.Flag{imap.FlagFlagged}) })

	// A message deleted on another device.
	if err := e.store.Expunge(context.Background(), first.ID, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "EXPUNGE 1", func() bool { _, ex, _ := u.get(); return slices.Equal(ex, []uint32{1}) })

	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	// The session's view now has the second message as number 1.
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].Envelope.Subject != "second" {
		t.Fatalf("FETCH 1 after IDLE = %+v, %v", msgs, err)
	}
}

func TestTwoSessionsOneMailbox(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	for _, s := range []string{"a", "b", "c"} {
		e.add(t, "INBOX", s, s, mailstore.Remote)
	}
	c1 := e.selectBox(t, "INBOX", nil)
	u2, opts := newUpdates()
	c2 := e.selectBox(t, "INBOX", opts)

	// c1 flags and expunges message 1, and appends a message.
	if err := c1.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c1.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{"$Important"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, c1, "INBOX", mimeMsg("d", "d"), nil)

	// Until c2 is told, its sequence numbers stay as they were: FETCH
	// does not report expunges (RFC 9051 §7.5.1), so 3 is still UID 3.
	msgs, err := c2.Fetch(imap.SeqSetNum(3), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Fatalf("c2 FETCH 3 before NOOP = %+v, %v", msgs, err)
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	exists, expunged, flags := u2.get()
	if !slices.Equal(expunged, []uint32{1}) || !slices.Contains(exists, 3) {
		t.Errorf("c2 got EXPUNGE %v, EXISTS %v", expunged, exists)
	}
	if !slices.Contains(flags[2], "$Important") && !slices.Contains(flags[1], "$Important") {
		t.Errorf("c2 got flag updates %v", flags)
	}
	// Now 1 is UID 2, 3 is the appended UID 4.
	msgs, err = c2.Fetch(imap.SeqSetNum(1, 3), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 2 || msgs[0].UID != 2 || msgs[1].UID != 4 {
		t.Errorf("c2 after NOOP = %+v, %v", msgs, err)
	}
}

// TestConcurrentSessions drives sessions and the sync engine at once, for
// the race detector and the trackers' consistency checks (which panic on
// an inconsistent message count).
func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	for i := range 20 {
		e.add(t, "INBOX", "seed", string(rune('a'+i)), mailstore.Remote)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 3 {
		c := e.selectBox(t, "INBOX", nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var all imap.SeqSet
			all.AddRange(1, 0)
			for i := 0; i < 15 && ctx.Err() == nil; i++ {
				c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
				c.Fetch(all, &imap.FetchOptions{Flags: true, Envelope: true}).Close()
				c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
				c.Expunge().Close()
				c.Noop().Wait()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 30 && ctx.Err() == nil; i++ {
			if err := pushMsg(e.store, "pushed"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	// Every session still agrees with the store after a NOOP.
	c := e.selectBox(t, "INBOX", nil)
	mb, _ := e.store.Mailbox(ctx, "INBOX")
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != mb.Messages {
		t.Errorf("SELECT says %v messages, store %d (%v)", sel, mb.Messages, err)
	}
}

// pushMsg adds a message to INBOX as the sync engine does with new mail.
func pushMsg(st *mailstore.Store, subject string) error {
	_, _, err := st.Add(context.Background(), mailstore.NewMessage{
		Key: rand.Text(), Mailbox: "INBOX", MIME: mimeMsg(subject, "pushed"),
	}, mailstore.Remote)
	return err
}
