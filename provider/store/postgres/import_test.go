package postgres

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3/driver"

	"umbra/provider/store"
	"umbra/provider/store/sqlite"
	"umbra/signet"
)

// embedded fills an SQLite store in dir the way a provider does and
// returns it opened read-only, as migrate-store reads it.
func embedded(t *testing.T, dir string) *sql.DB {
	t.Helper()
	s, err := sqlite.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for a := range 3 {
		addr := fmt.Sprintf("user%d@example.test", a)
		code := sha256.Sum256([]byte(addr))
		must(s.Accounts().AddInvited(ctx, addr, code))
		if a == 2 {
			continue // stays invited
		}
		must(s.Accounts().Activate(ctx, addr, code, store.ModeParanoid))
		sg := []byte("signet of " + addr)
		_, err := s.Signets().Append(ctx, addr, signet.FingerprintOf(sg), sg)
		must(err)
		for m := range 30 {
			_, _, err := s.Mailbox().Deliver(ctx, addr, sha256.Sum256(fmt.Appendf(nil, "%s %d", addr, m)), bytes.NewReader(bytes.Repeat([]byte{byte(m)}, 100*m+1)), int64(100*m+1), time.Now())
			must(err)
		}
		c, err := s.Mailbox().Put(ctx, addr, "prefs", "settings", 0, strings.NewReader("p"), 1)
		must(err)
		_, err = s.Mailbox().Delete(ctx, addr, "prefs", c.Revision, time.Now())
		must(err)
		key := sha256.Sum256([]byte("key " + addr))
		must(s.Devices().Add(ctx, store.Device{Account: addr, ID: "dev-" + fmt.Sprint(a), Key: key[:], Name: "phone", Created: t0}))
		must(s.Sessions().Create(ctx, store.Session{Account: addr, DeviceID: "dev-" + fmt.Sprint(a), Issued: t0,
			AccessHash: sha256.Sum256([]byte("a" + addr)), AccessExpires: t0.Add(time.Hour),
			RefreshHash: sha256.Sum256([]byte("r" + addr)), RefreshExpires: t0.Add(24 * time.Hour)}))
	}
	for q := range 5 {
		_, _, err := s.Queue().Enqueue(ctx, store.Outbound{MessageID: sha256.Sum256(fmt.Appendf(nil, "out %d", q)),
			Domain: "example.org", Message: strings.NewReader("outbound"), Size: 8, NotBefore: t0})
		must(err)
	}
	must(s.Queue().Drop(ctx, 1)) // a gap in the ids
	must(s.RemoteSignets().Put(ctx, store.RemoteSignet{Domain: "example.org", Signet: []byte("org"), Fetched: t0, Expires: t0.Add(time.Hour)}))
	must(s.Challenges().Put(ctx, store.Challenge{Value: sha256.Sum256([]byte("ch")), Purpose: "login", Address: "user0@example.test", Expires: t0}))
	must(s.Keylog().Append(ctx, 0, []byte("record 0"), [][32]byte{sha256.Sum256([]byte("h"))}))
	must(s.Close())
	src, err := driver.Open("file:" + filepath.Join(dir, sqlite.FileName) + "?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// TestImport: an embedded store copied into PostgreSQL verifies identical,
// a second run (a resumed import) changes nothing, and the copy carries
// on where the embedded store stopped.
func TestImport(t *testing.T) {
	t.Parallel()
	src := embedded(t, t.TempDir())
	s := openTest(t, cluster.NewDatabase(t))
	ctx := t.Context()
	copied := map[string]int64{}
	for range 2 {
		if err := s.Import(ctx, src, func(table string, n int64) { copied[table] = n }); err != nil {
			t.Fatal(err)
		}
		v, err := s.Verify(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		if v.Accounts != 3 || v.Documents != 62 || v.QueueEntries != 4 || v.KeylogRecords != 1 {
			t.Fatalf("verified %+v", v)
		}
	}
	if copied["documents"] != 62 || copied["deliveries"] != 60 {
		t.Fatalf("copied %v", copied)
	}
	// A difference is found: a document changed on one side only.
	const addr = "user1@example.test"
	if _, err := s.pool.Exec(ctx, `UPDATE documents SET data = 'x' WHERE address = $1 AND seq = 5`, addr); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, src); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatalf("Verify after a change: %v", err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE documents SET data = $2 WHERE address = $1 AND seq = 5`, addr, bytes.Repeat([]byte{4}, 401)); err != nil {
		t.Fatal(err)
	}

	c, err := s.Mailbox().Put(ctx, addr, "prefs", "settings", 2, strings.NewReader("p2"), 2)
	if err != nil || c.Seq != 33 || c.Revision != 3 {
		t.Fatalf("put after the import: %+v %v", c, err)
	}
	if _, created, err := s.Mailbox().Deliver(ctx, addr, sha256.Sum256([]byte(addr+" 7")), strings.NewReader("again"), 5, time.Now()); err != nil || created {
		t.Fatalf("redelivery after the import: created %v, %v", created, err)
	}
	id, _, err := s.Queue().Enqueue(ctx, store.Outbound{MessageID: sha256.Sum256([]byte("new")), Domain: "example.org", Message: strings.NewReader("m"), Size: 1})
	if err != nil || id != 6 {
		t.Fatalf("new queue entry %d %v, want id 6", id, err)
	}
	if _, err := s.Sessions().ByAccess(ctx, sha256.Sum256([]byte("a"+addr))); err != nil {
		t.Fatalf("session after the import: %v", err)
	}
}
