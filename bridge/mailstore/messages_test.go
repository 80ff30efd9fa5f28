package mailstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestAddIdempotentAndDeduplicated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	r := record(s)
	date := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	nm := NewMessage{Key: "k1", Mailbox: "inbox", Flags: []string{"\\seen", "$Label", "\\Recent", "\\SEEN"}, InternalDate: date, MIME: mimeMsg("s", "b")}
	m, created, err := s.Add(ctx, nm, Remote)
	if err != nil || !created {
		t.Fatalf("Add: %v, %v", err, created)
	}
	if m.Mailbox != Inbox || !slices.Equal(m.Flags, []string{"$Label", `\Seen`}) || !m.InternalDate.Equal(date) ||
		m.Size != int64(len(nm.MIME)) || m.UID != 1 || m.Key != "k1" ||
		!slices.Equal(m.SyncedFlags, m.Flags) || m.SyncedMailbox != Inbox {
		t.Fatalf("Add returned %+v", m)
	}
	wantEvents(t, r, fmt.Sprintf("added %d 1", m.MailboxID))
	again, created, err := s.Add(ctx, nm, Local)
	if err != nil || created || again.ID != m.ID || again.UID != m.UID {
		t.Fatalf("second Add: %+v, %v, %v", again, created, err)
	}
	wantEvents(t, r)
	if p, _ := s.Pending(ctx, 0); len(p) != 0 {
		t.Fatalf("idempotent Add made pending: %+v", p)
	}
	// Same bytes under another key: the content is shared.
	other, _, err := s.Add(ctx, NewMessage{Key: "k2", Mailbox: "Sent", MIME: nm.MIME}, Local)
	if err != nil || other.ContentID != m.ContentID || other.SyncedFlags != nil || other.SyncedMailbox != "" {
		t.Fatalf("Add of the same bytes: %+v, %v", other, err)
	}
	if err := s.Expunge(ctx, m.ID, Remote); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Content(ctx, m.ContentID); err != nil {
		t.Fatalf("shared content collected: %v", err)
	}
	if err := s.Expunge(ctx, other.ID, Remote); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Content(ctx, m.ContentID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unused content kept: %v", err)
	}
	if uids, err := s.Search(ctx, m.MailboxID, FieldText, "Alice"); err != nil || len(uids) != 0 {
		t.Fatalf("search after collection: %v, %v", uids, err)
	}

	for _, bad := range []NewMessage{
		{Key: "", Mailbox: Inbox},
		{Key: "x", Mailbox: "Nope"},
		{Key: "x", Mailbox: Inbox, Flags: []string{`\Bogus`}},
		{Key: "x", Mailbox: Inbox, Flags: []string{"a b"}},
		{Key: "x", Mailbox: Inbox, MIME: make([]byte, MaxMessageSize+1)},
	} {
		if _, _, err := s.Add(ctx, bad, Local); err == nil {
			t.Errorf("Add(%q, %q, %q) succeeded", bad.Key, bad.Mailbox, bad.Flags)
		}
	}
}

func TestContentAndHeader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	for _, tc := range []struct{ mime, header string }{
		{"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore", "A: 1\r\nB: 2\r\n\r\n"},
		{"A: 1\n\nbody", "A: 1\n\n"},
		{"A: 1\r\n", "A: 1\r\n"},
		{"", ""},
		{"\r\n\r\nbody", "\r\n\r\n"},
	} {
		m, _, err := s.Add(ctx, NewMessage{Key: fmt.Sprintf("%q", tc.mime), Mailbox: Inbox, MIME: []byte(tc.mime)}, Local)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Content(ctx, m.ContentID)
		if err != nil || !bytes.Equal(c, []byte(tc.mime)) {
			t.Errorf("Content of %q = %q, %v", tc.mime, c, err)
		}
		h, err := s.Header(ctx, m.ContentID)
		if err != nil || string(h) != tc.header {
			t.Errorf("Header of %q = %q, %v; want %q", tc.mime, h, err, tc.header)
		}
	}
	if _, err := s.Header(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Header(999): %v", err)
	}
	if _, err := s.Get(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(999): %v", err)
	}
}

func TestSetFlags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	m := add(t, s, "k1", Inbox, Remote)
	r := record(s)
	got, err := s.SetFlags(ctx, m.ID, []string{`\flagged`, "Work", "work", `\Seen`}, Local)
	if err != nil || !slices.Equal(got.Flags, []string{"Work", `\Flagged`, `\Seen`}) || len(got.SyncedFlags) != 0 || got.SyncedFlags == nil {
		t.Fatalf("SetFlags: %+v, %v", got, err)
	}
	wantEvents(t, r, fmt.Sprintf("flags %d 1", m.MailboxID))
	p, _ := s.Pending(ctx, 0)
	if len(p) != 1 || !slices.Equal(p[0].Flags, got.Flags) {
		t.Fatalf("pending %+v", p)
	}
	// Unchanged: no event, no new change.
	if _, err := s.SetFlags(ctx, m.ID, got.Flags, Local); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, r)
	if p2, _ := s.Pending(ctx, 0); p2[0].Change != p[0].Change {
		t.Fatal("unchanged flags made a new change")
	}
	// Remote sets the agreed flags and keeps the local change pending.
	got, err = s.SetFlags(ctx, m.ID, []string{`\Seen`}, Remote)
	if err != nil || !slices.Equal(got.SyncedFlags, []string{`\Seen`}) {
		t.Fatalf("remote SetFlags: %+v, %v", got, err)
	}
	if p, _ := s.Pending(ctx, 0); len(p) != 1 {
		t.Fatal("remote change cleared the pending local change")
	}
	if _, err := s.SetFlags(ctx, m.ID, []string{`\Recent`}, Local); err != nil {
		t.Fatalf("\\Recent not ignored: %v", err)
	}
	if _, err := s.SetFlags(ctx, m.ID, []string{"bad]"}, Local); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad keyword: %v", err)
	}
	if _, err := s.SetFlags(ctx, 999, nil, Local); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetFlags(999): %v", err)
	}
}

func TestExpungeLocalTombstone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	m := add(t, s, "k1", Inbox, Remote)
	if err := s.Expunge(ctx, m.ID, Local); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, m.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a tombstone: %v", err)
	}
	if _, err := s.ByKey(ctx, "k1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ByKey of a tombstone: %v", err)
	}
	if got := uids(t, s, Inbox); len(got) != 0 {
		t.Fatalf("tombstone listed: %v", got)
	}
	if err := s.Expunge(ctx, m.ID, Local); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Expunge: %v", err)
	}
	// Add of a key deleted here and not yet pushed: the deletion wins.
	again, created, err := s.Add(ctx, NewMessage{Key: "k1", Mailbox: Inbox, MIME: []byte("x")}, Remote)
	if err != nil || created || again.MailboxID != 0 {
		t.Fatalf("Add over a tombstone: %+v, %v, %v", again, created, err)
	}
	p, _ := s.Pending(ctx, 0)
	if len(p) != 1 || !p[0].Expunged || p[0].ContentID != 0 {
		t.Fatalf("pending %+v", p)
	}
	if _, err := s.Content(ctx, m.ContentID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a tombstone kept its content: %v", err)
	}
	if err := s.Pushed(ctx, "k1", p[0].Change); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx, 0); len(p) != 0 {
		t.Fatalf("pending after push %+v", p)
	}
	// The tombstone is gone: the key can come back.
	if _, created, err := s.Add(ctx, NewMessage{Key: "k1", Mailbox: Inbox}, Remote); err != nil || !created {
		t.Fatalf("Add after the push: %v, %v", created, err)
	}
}
