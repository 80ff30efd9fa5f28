package mailstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// TestMigrateV2: a version 1 store (subscriptions a column of mailbox,
// bodies in a word index, addresses indexed as written) opens as version
// 2 with its subscriptions, body search and address search working.
func TestMigrateV2(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	add := func(key, mime string) {
		if _, _, err := s.Add(ctx, NewMessage{Key: key, Mailbox: Inbox, MIME: []byte(mime)}, Remote); err != nil {
			t.Fatal(err)
		}
	}
	add("a", "From: eve(work)@e.test\r\nSubject: s\r\n\r\nHello World\r\n")
	if _, err := s.CreateMailbox(ctx, "Unsubscribed", Local); err != nil {
		t.Fatal(err)
	}
	// Turn it into version 1, as far as the migration can tell.
	s = downgrade(t, s, path, toV2+`
ALTER TABLE mailbox ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 1;
UPDATE mailbox SET subscribed = (name IN (SELECT name FROM subscription));
DROP TABLE subscription;
CREATE VIRTUAL TABLE search_body USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO search_body(rowid, body) SELECT id, body FROM body_text;
DROP TABLE body_text;
UPDATE search SET sender = 'eve(work)@e.test';
ALTER TABLE mailbox DROP COLUMN highest_modseq;
ALTER TABLE message DROP COLUMN modseq;
DELETE FROM counter WHERE name = 'modseq';
PRAGMA user_version = 1;`)
	subs, err := s.Subscriptions(ctx)
	if err != nil || !slices.Equal(subs, []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}) {
		t.Errorf("subscriptions after migration: %v, %v", subs, err)
	}
	inbox := mailbox(t, s, Inbox).ID
	for _, tc := range []struct {
		field Field
		text  string
	}{{FieldBody, "LO WO"}, {FieldFrom, "eve@e.test"}} {
		if got, err := s.Search(ctx, inbox, tc.field, tc.text); err != nil || !slices.Equal(got, []uint32{1}) {
			t.Errorf("Search(%d, %q) after migration = %v, %v", tc.field, tc.text, got, err)
		}
	}
	add("b", "Subject: new\r\n\r\nafter the migration\r\n")
	if got, err := s.Search(ctx, inbox, FieldText, "THE MIGR"); err != nil || !slices.Equal(got, []uint32{2}) {
		t.Errorf("Search of a message added after migration = %v, %v", got, err)
	}
}

// TestSubscriptionsIndependent: subscriptions are names, apart from
// mailboxes (RFC 3501 §6.3.6, §6.3.9): CREATE does not subscribe, DELETE
// does not unsubscribe, a name without a mailbox can be (un)subscribed.
// Another device's new folder is subscribed here, so clients show it.
func TestSubscriptionsIndependent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.CreateMailbox(ctx, "Mine", Local); err != nil {
		t.Fatal(err)
	}
	if mailbox(t, s, "Mine").Subscribed {
		t.Error("CREATE subscribed")
	}
	if err := s.SetSubscribed(ctx, "Mine", true); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMailbox(ctx, "Mine", Local); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSubscribed(ctx, "Ghost", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateMailbox(ctx, "Theirs", Remote); err != nil {
		t.Fatal(err)
	}
	subs, err := s.Subscriptions(ctx)
	want := []string{"Archive", "Drafts", "Ghost", "INBOX", "Junk", "Mine", "Sent", "Theirs", "Trash"}
	if err != nil || !slices.Equal(subs, want) {
		t.Errorf("subscriptions %v, %v; want %v", subs, err, want)
	}
	if err := s.SetSubscribed(ctx, "Ghost", false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSubscribed(ctx, "Ghost", false); err != nil {
		t.Errorf("unsubscribing twice: %v", err)
	}
	if err := s.RenameMailbox(ctx, "Theirs", "Renamed", Remote); err != nil {
		t.Fatal(err)
	}
	if !mailbox(t, s, "Renamed").Subscribed {
		t.Error("another device's rename lost the subscription")
	}
}

// toV3 turns a version 4 store into version 3: no vanished table, no
// floor.
const toV3 = `
DROP TABLE vanished;
ALTER TABLE mailbox DROP COLUMN vanished_floor;
PRAGMA user_version = 3;`

// toV2 turns a version 4 store into version 2, as far as a migration can
// tell: body_text without its new column, no body_search and
// content_info, and the
// version 2 reading of messages in the indexes (here: text it would not
// have found).
const toV2 = toV3 + `
DROP TABLE body_search;
DROP TABLE content_info;
ALTER TABLE body_text DROP COLUMN doc;
UPDATE body_text SET body = 'stale';
UPDATE search SET subject = 'stale', sender = 'stale', rcpt = 'stale', hdr = 'stale';
PRAGMA user_version = 2;`

// TestMigrateV3: a version 2 store opens as version 3 with every message
// indexed again from mailtext's analysis (HTML as text, charsets, the
// attachment names) and searchable by IMAP SEARCH and Query.
func TestMigrateV3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	for i, mime := range []string{
		"From: a@a.test\r\nSubject: =?iso-8859-1?q?caf=E9?=\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n" +
			"Content-Type: text/html; charset=koi8-r\r\n\r\n<p>\xf0\xd2\xc9\xd7\xc5\xd4</p>\r\n",
		"From: b@b.test\r\nSubject: files\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n" +
			"Content-Type: text/plain\r\n\r\nsee attached\r\n--X\r\nContent-Type: application/pdf; name=report-2026.pdf\r\n\r\n%PDF\r\n--X--\r\n",
	} {
		if _, _, err := s.Add(ctx, NewMessage{Key: fmt.Sprint(i), Mailbox: Inbox, MIME: []byte(mime)}, Remote); err != nil {
			t.Fatal(err)
		}
	}
	s = downgrade(t, s, path, toV2)
	checkSearches(t, s, mailbox(t, s, Inbox).ID, []searchCase{
		{FieldSubject, "CAFÉ", []uint32{1}},
		{FieldBody, "привет", []uint32{1}},
		{FieldBody, "<p>", nil},
		{FieldBody, "report-2026", []uint32{2}},
		{FieldText, "stale", nil},
	})
}

// downgrade runs sql, which makes the store at path look as an older
// version would have left it, closes it and opens it again (migrating).
func downgrade(t *testing.T, s *Store, path, sql string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Without the merger, which would find the tables sql drops.
	l := defaultLayout
	l.idleMerge = false
	s, err := open(path, testKey, l)
	if err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock()
	err = s.w.c.Exec(sql)
	s.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return reopen(t, path)
}

// reopen opens the store at path again, closing it when the test ends.
func reopen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
