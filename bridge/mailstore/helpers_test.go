package mailstore

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// openTest opens a new store in a temporary directory and closes it when
// the test ends.
func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mail.db")
	s, err := Open(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, path
}

// mimeMsg builds a simple message.
func mimeMsg(subject, body string) []byte {
	return []byte("From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: " + subject +
		"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// add adds a message or fails the test.
func add(t testing.TB, s *Store, key, mailbox string, origin Origin, flags ...string) Message {
	t.Helper()
	m, created, err := s.Add(context.Background(), NewMessage{Key: key, Mailbox: mailbox, Flags: flags,
		MIME: mimeMsg("subject of "+key, "body of "+key)}, origin)
	if err != nil || !created {
		t.Fatalf("Add %s: %v, created %v", key, err, created)
	}
	return m
}

func mailbox(t testing.TB, s *Store, name string) Mailbox {
	t.Helper()
	m, err := s.Mailbox(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func uids(t testing.TB, s *Store, name string) []uint32 {
	t.Helper()
	ms, err := s.List(context.Background(), mailbox(t, s, name).ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint32
	for _, m := range ms {
		out = append(out, m.UID)
	}
	return out
}

// recorder collects events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func record(s *Store) *recorder {
	r := &recorder{}
	s.Subscribe(func(ev Event) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, ev)
	})
	return r
}

// take returns the events so far as "kind mailbox uid" strings and
// forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		out = append(out, fmt.Sprintf("%s %d %d", kindName[ev.Kind], ev.MailboxID, ev.UID))
	}
	r.events = nil
	return out
}

var kindName = map[EventKind]string{MessageAdded: "added", MessageExpunged: "expunged", FlagsChanged: "flags", MailboxesChanged: "mailboxes"}

func wantEvents(t *testing.T, r *recorder, want ...string) {
	t.Helper()
	if got := r.take(); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}
