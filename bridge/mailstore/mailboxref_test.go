package mailstore

import (
	"context"
	"errors"
	"testing"
)

// TestMailboxRef: MailboxRef gives what Mailbox does, INBOX in any case,
// but Subscribed and the counts.
func TestMailboxRef(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ctx := context.Background()
	add(t, s, "k1", Inbox, Remote)
	for _, name := range []string{"INBOX", "inbox", "Sent"} {
		full := mailbox(t, s, name)
		ref, err := s.MailboxRef(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		want := full
		want.Subscribed, want.Messages, want.Unseen, want.Size = false, 0, 0, 0
		if ref != want || ref.UIDValidity == 0 || ref.UIDNext == 0 {
			t.Errorf("MailboxRef(%q) = %+v, want %+v", name, ref, want)
		}
	}
	if _, err := s.MailboxRef(ctx, "Nowhere"); !errors.Is(err, ErrNotFound) {
		t.Errorf("MailboxRef of a missing mailbox: %v, want ErrNotFound", err)
	}
}
