package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"umbra/provider"
	"umbra/provider/store/postgres/pgtest"
)

// pg is the PostgreSQL cluster of the tests that need one, started by the
// first of them.
var pg = new(pgtest.Cluster)

// An embedded provider moves to PostgreSQL: server migrate creates the
// schema, migrate-store copies and verifies (twice: a rerun is harmless),
// and with db set the management verbs read the accounts from PostgreSQL
// even with the embedded store gone.
func TestMigrateStore(t *testing.T) {
	t.Parallel()
	dir, _ := initProvider(t)
	for _, a := range []string{"alice", "bob"} {
		if code, _, errOut := umbra(t, "server", "user", "add", a+"@"+testDomain, "--dir", dir); code != 0 {
			t.Fatalf("user add: exit %d: %s", code, errOut)
		}
	}
	url := pg.NewDatabase(t)
	code, out, errOut := umbra(t, "server", "migrate", "--db", url)
	if code != 0 || !strings.Contains(out, "schema version 0 →") {
		t.Fatalf("server migrate: exit %d: %s%s", code, out, errOut)
	}
	for range 2 {
		code, out, errOut = umbra(t, "server", "migrate-store", "--from", dir, "--to", url)
		if code != 0 || !strings.Contains(out, "verified: ") || !strings.Contains(out, "2 accounts") {
			t.Fatalf("server migrate-store: exit %d: %s%s", code, out, errOut)
		}
	}
	conf := filepath.Join(dir, provider.ConfigFile)
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("db = " + url + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, provider.DataDir), filepath.Join(dir, "data.embedded")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = umbra(t, "server", "user", "list", "--dir", dir)
	if code != 0 || !strings.Contains(out, "alice@"+testDomain) || !strings.Contains(out, "bob@"+testDomain) {
		t.Fatalf("user list from PostgreSQL: exit %d: %s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, provider.DataDir)); !os.IsNotExist(err) {
		t.Fatalf("user list with db set made an embedded store: %v", err)
	}
	code, out, errOut = umbra(t, "server", "migrate", "--dir", dir)
	if code != 0 || !strings.Contains(out, "→") {
		t.Fatalf("server migrate --dir: exit %d: %s%s", code, out, errOut)
	}
	code, _, errOut = umbra(t, "server", "run", "--dir", dir, "--db", "/var/lib/umbra")
	if code != 2 || !strings.Contains(errOut, "postgres:// URL") {
		t.Fatalf("server run --db DIR: exit %d: %s", code, errOut)
	}
}
