package mailstore

import (
	"context"
	"fmt"
	"testing"
)

// Check reports what another Store on the same file (another process, as
// `umbra import` and `umbra tag` are) added or tagged, once, and nothing
// when nothing changed.
func TestWatchSeesOtherWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	r := record(s)
	w, err := s.NewWatch()
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.Check(w); n != 0 || err != nil {
		t.Fatalf("Check with no change: %d, %v", n, err)
	}
	add(t, s, "own", Inbox, Local)
	wantEvents(t, r, fmt.Sprintf("added %d 1", mailbox(t, s, Inbox).ID))
	if n, _, err := s.Check(w); n != 0 || err != nil {
		t.Fatalf("Check after our own write: %d, %v", n, err)
	}
	add(t, s, "own2", Inbox, Local)
	wantEvents(t, r, fmt.Sprintf("added %d 2", mailbox(t, s, Inbox).ID))

	other, err := Open(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.CreateMailbox(ctx, "Imported", Local); err != nil {
		t.Fatal(err)
	}
	add(t, other, "x1", "Imported", Local, `\Seen`)
	add(t, other, "x2", Inbox, Remote)
	if n, other, err := s.Check(w); err != nil || n != 3 || !other {
		t.Fatalf("Check: %d, %v; want the other's 2 and our own since the last Check again", n, err)
	}
	imported, inbox := mailbox(t, s, "Imported").ID, mailbox(t, s, Inbox).ID
	wantEvents(t, r, "mailboxes 0 0", fmt.Sprintf("added %d 2", inbox), fmt.Sprintf("added %d 3", inbox), fmt.Sprintf("added %d 1", imported))
	if n, _, err := s.Check(w); n != 0 || err != nil {
		t.Fatalf("second Check: %d, %v", n, err)
	}
	wantEvents(t, r)

	// The other process tags a message (`umbra tag`): a flags event, once.
	own, err := other.ByKey(ctx, "own")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ChangeFlags(ctx, own.ID, FlagChange{Add: []string{"work"}}, Local); err != nil {
		t.Fatal(err)
	}
	if n, changed, err := s.Check(w); err != nil || n != 0 || !changed {
		t.Fatalf("Check after the other's tag: %d, %v, %v", n, changed, err)
	}
	wantEvents(t, r, "mailboxes 0 0", fmt.Sprintf("flags %d 1", inbox))
	if n, _, err := s.Check(w); n != 0 || err != nil {
		t.Fatalf("Check after that: %d, %v", n, err)
	}
	wantEvents(t, r)
}

// Check reports the expunges and moves another Store on the same file
// made (another process, as the CLI is): the UIDs that left, and a moved
// message's arrival in its new mailbox.
func TestWatchSeesOtherExpunges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, r, w, other := watchOther(t, "a", "b", "c")
	expungeKey(t, other, "a", Local)
	b, err := other.ByKey(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Move(ctx, b.ID, "Archive", Local); err != nil {
		t.Fatal(err)
	}
	if n, changed, err := s.Check(w); err != nil || n != 1 || !changed {
		t.Fatalf("Check: %d, %v, %v; want the moved message", n, changed, err)
	}
	inbox, archive := mailbox(t, s, Inbox).ID, mailbox(t, s, "Archive").ID
	wantEvents(t, r, "mailboxes 0 0", fmt.Sprintf("expunged %d 1", inbox), fmt.Sprintf("expunged %d 2", inbox),
		fmt.Sprintf("added %d 1", archive))
	if n, _, err := s.Check(w); n != 0 || err != nil {
		t.Fatalf("second Check: %d, %v", n, err)
	}
	wantEvents(t, r)
}

// When the store forgot some of the expunges another process made since
// the last Check (more than keptVanished in a mailbox: its floor rose),
// Check reports every UID below UIDNEXT the mailbox no longer holds.
func TestWatchBeyondVanishedFloor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, r, w, other := watchOther(t, "a", "b", "c", "d")
	expungeKey(t, other, "a", Remote)
	expungeKey(t, other, "c", Remote)
	inbox := mailbox(t, s, Inbox).ID
	// As noteVanished forgets beyond keptVanished: the rows go, the
	// floor rises to the newest forgotten.
	err := other.write(ctx, func(c *conn) ([]Event, error) {
		_, err := c.exec(`UPDATE mailbox SET vanished_floor = (SELECT max(modseq) FROM vanished WHERE mailbox_id = ?1) WHERE id = ?1`, inbox)
		if err == nil {
			_, err = c.exec(`DELETE FROM vanished WHERE mailbox_id = ?`, inbox)
		}
		return nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Check(w); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, r, "mailboxes 0 0", fmt.Sprintf("expunged %d 1", inbox), fmt.Sprintf("expunged %d 3", inbox))
}

// watchOther opens a store with messages of keys in INBOX, records its
// events from then on, starts a Watch on it, and opens a second Store
// on its file, as another process would.
func watchOther(t *testing.T, keys ...string) (*Store, *recorder, *Watch, *Store) {
	t.Helper()
	s, path := openTest(t)
	for _, k := range keys {
		add(t, s, k, Inbox, Remote)
	}
	r := record(s)
	w, err := s.NewWatch()
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return s, r, w, other
}

// expungeKey expunges the message of key from s.
func expungeKey(t *testing.T, s *Store, key string, origin Origin) {
	t.Helper()
	m, err := s.ByKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Expunge(context.Background(), m.ID, origin); err != nil {
		t.Fatal(err)
	}
}
