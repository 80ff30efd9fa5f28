package sqlite

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"umbra/provider/store"
	"umbra/signet"
)

// TestSchemaV1Vector opens testdata/schema-v1.sql, a database as schema
// version 1 wrote it, and reads every kind of row back through the store:
// the on-disk encodings (docs/spec/store.md §8) must never change meaning. It also
// checks that a new database has exactly the schema of the vector after
// migration, which catches an edit to a migration that has shipped.
func TestSchemaV1Vector(t *testing.T) {
	t.Parallel()
	s := loadVector(t, "testdata/schema-v1.sql")
	ctx := t.Context()

	list, err := s.Accounts().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Account{
		{Address: "alice@example.test", State: store.StateActive, Mode: store.ModeCautious, Created: at(0)},
		{Address: "bob@example.test", State: store.StateInvited, Created: at(1)},
		{Address: "carol@example.test", State: store.StateDisabled, Mode: store.ModeParanoid, Created: at(2)},
	}
	if len(list) != len(want) {
		t.Fatalf("accounts: %+v", list)
	}
	for i := range want {
		if list[i].Address != want[i].Address || list[i].State != want[i].State || list[i].Mode != want[i].Mode || !list[i].Created.Equal(want[i].Created) {
			t.Fatalf("account %d: %+v, want %+v", i, list[i], want[i])
		}
	}
	if acc, _ := s.Accounts().Get(ctx, "alice@example.test"); string(acc.KeyBackup) != "key" {
		t.Fatalf("alice's key backup: %q", acc.KeyBackup)
	}
	if err := s.Accounts().Activate(ctx, "bob@example.test", sha256.Sum256([]byte("bob-invite")), store.ModeParanoid); err != nil {
		t.Fatalf("bob's invitation code: %v", err)
	}

	cur, err := s.Signets().Current(ctx, "alice@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if cur.Seq != 2 || cur.Fingerprint != signet.FingerprintOf([]byte("signet-2")) || string(cur.Signet) != "signet-2" || !cur.Added.Equal(at(4)) {
		t.Fatalf("alice's current signet: %+v", cur)
	}
	first, err := s.Signets().ByFingerprint(ctx, signet.FingerprintOf([]byte("signet-1")))
	if err != nil || first.Seq != 1 || first.Address != "alice@example.test" {
		t.Fatalf("signet-1: %+v, %v", first, err)
	}

	feed, err := s.Mailbox().Changes(ctx, "alice@example.test", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantFeed := []store.Change{
		{DocID: "in-1", Kind: "mail", Revision: 1, Seq: 1, Size: 5},
		{DocID: "prefs", Kind: "settings", Revision: 2, Seq: 3, Size: 2},
		{DocID: "old", Kind: "note", Revision: 2, Seq: 4, Deleted: true},
	}
	if len(feed) != len(wantFeed) {
		t.Fatalf("feed: %+v", feed)
	}
	for i := range wantFeed {
		if feed[i] != wantFeed[i] {
			t.Fatalf("feed[%d] = %+v, want %+v", i, feed[i], wantFeed[i])
		}
	}
	var mid store.MessageID
	for i := range mid {
		mid[i] = 1
	}
	doc, created, err := s.Mailbox().Deliver(ctx, "alice@example.test", mid, strings.NewReader("again"), 5, time.Now())
	if err != nil || created || doc != "in-1" {
		t.Fatalf("redelivery of the vector's message: %q %v %v", doc, created, err)
	}
	c1, err := s.Mailbox().Put(ctx, "alice@example.test", "new", "note", 0, nil, 0)
	if err != nil || c1.Seq != 5 {
		t.Fatalf("next change: %+v, %v (want seq 5)", c1, err)
	}

	e, err := s.Queue().Get(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if e.MessageID != (store.MessageID(bytes.Repeat([]byte{2}, 32))) || e.Domain != "example.org" || string(e.Message) != "message" ||
		e.BounceTo != nil || !e.Created.Equal(at(5)) || e.Attempts != 1 || !e.NextAttempt.Equal(at(int64(time.Hour))) ||
		e.LastError != "451 4.3.0 later" || e.LeaseOwner != "" || !e.LeaseUntil.IsZero() {
		t.Fatalf("queue entry 7: %+v", e)
	}
	id, _, err := s.Queue().Enqueue(ctx, store.Outbound{MessageID: store.MessageID{3}, Domain: "example.org", Message: strings.NewReader("m"), Size: 1})
	if err != nil || id != 8 {
		t.Fatalf("next queue id: %d, %v (want 8)", id, err)
	}
	rs, err := s.RemoteSignets().Get(ctx, "example.org")
	if err != nil || string(rs.Signet) != "org signet" || !rs.Fetched.Equal(at(0)) || !rs.Expires.Equal(at(int64(24*time.Hour))) {
		t.Fatalf("remote signet: %+v, %v", rs, err)
	}

	if got, want := schemaOf(t, s), schemaOf(t, openTest(t, t.TempDir())); got != want {
		t.Fatalf("schema of a new database differs from the vector's after migration:\n%s\n----\n%s", want, got)
	}
}

// at is a vector's time: T+ns, T = 2030-01-01T00:00:00Z.
func at(ns int64) time.Time { return time.Unix(0, 1893456000000000000+ns).UTC() }

// loadVector runs the SQL script file into a new database and opens it
// with the current code, which migrates it to the latest version.
func loadVector(t *testing.T, file string) *Store {
	t.Helper()
	script, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := sqlite3.Open(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(string(script)); err != nil {
		t.Fatal(errors.Join(err, c.Close()))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return openTest(t, dir)
}

func schemaOf(t *testing.T, s *Store) string {
	var b bytes.Buffer
	err := s.read(t.Context(), func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT type, name, coalesce(sql, '') FROM sqlite_schema ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var typ, name, text string
			if err := rows.Scan(&typ, &name, &text); err != nil {
				return err
			}
			b.WriteString(typ + " " + name + "\n" + text + "\n")
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
