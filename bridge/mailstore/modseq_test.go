package mailstore

import (
	"context"
	"errors"
	"testing"
)

// TestModSeq: every change of a message, local or from the provider,
// gives it a new, higher mod-sequence and raises its mailbox's
// HIGHESTMODSEQ, as does a message leaving the mailbox; the values
// survive a restart; a conditional change of a message changed since
// fails with ErrModified (RFC 7162 §3.1, §3.2).
func TestModSeq(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	m1 := add(t, s, "k1", Inbox, Remote)
	m2 := add(t, s, "k2", Inbox, Local)
	if m1.ModSeq == 0 || m2.ModSeq <= m1.ModSeq || mailbox(t, s, Inbox).HighestModSeq != m2.ModSeq {
		t.Fatalf("after Add: %d %d, highest %d", m1.ModSeq, m2.ModSeq, mailbox(t, s, Inbox).HighestModSeq)
	}
	last := m2.ModSeq
	step := func(what string, got uint64) {
		t.Helper()
		if got <= last || mailbox(t, s, Inbox).HighestModSeq != got {
			t.Fatalf("%s: modseq %d after %d, highest %d", what, got, last, mailbox(t, s, Inbox).HighestModSeq)
		}
		last = got
	}
	m, err := s.SetFlags(ctx, m1.ID, []string{`\Seen`}, Remote)
	if err != nil {
		t.Fatal(err)
	}
	step("SetFlags from the provider", m.ModSeq)
	if m, err = s.ChangeFlags(ctx, m1.ID, FlagChange{Add: []string{"k"}, UnchangedSince: last}, Local); err != nil {
		t.Fatal(err)
	}
	step("conditional ChangeFlags", m.ModSeq)
	if _, err := s.ChangeFlags(ctx, m2.ID, FlagChange{Add: []string{"k"}, UnchangedSince: m2.ModSeq - 1}, Local); !errors.Is(err, ErrModified) {
		t.Fatalf("ChangeFlags of a message changed since: %v", err)
	}
	if m, err = s.ChangeFlags(ctx, m1.ID, FlagChange{Add: []string{"k"}}, Local); err != nil || m.ModSeq != last {
		t.Fatalf("a change that changes nothing keeps the modseq: %d, %v", m.ModSeq, err)
	}
	if err := s.Expunge(ctx, m2.ID, Local); err != nil {
		t.Fatal(err)
	}
	step("Expunge", mailbox(t, s, Inbox).HighestModSeq)
	if _, err := s.Move(ctx, m1.ID, "Sent", Remote); err != nil {
		t.Fatal(err)
	}
	step("Move out", mailbox(t, s, Inbox).HighestModSeq)
	sent := mailbox(t, s, "Sent").HighestModSeq
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, path)
	if got := mailbox(t, s, Inbox).HighestModSeq; got != last {
		t.Errorf("HIGHESTMODSEQ after restart %d, want %d", got, last)
	}
	if got := mailbox(t, s, "Sent").HighestModSeq; got != sent || got <= last {
		t.Errorf("Sent HIGHESTMODSEQ after restart %d, want %d", got, sent)
	}
	if m := add(t, s, "k3", Inbox, Remote); m.ModSeq <= sent {
		t.Errorf("modseq after restart %d, not above %d", m.ModSeq, sent)
	}
}
