package sqlite

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/storetest"
)

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, t.TempDir()) })
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	storetest.RunPersistence(t, func(t *testing.T, name string) store.Store {
		return openTest(t, filepath.Join(dir, name))
	})
}

// TestFileModes: the directory is 0700 and every database file 0600,
// whatever the umask.
func TestFileModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	s := openTest(t, dir)
	for _, addr := range []string{"a@example.test", "b@example.test"} { // fill the WAL
		if err := s.Accounts().AddInvited(t.Context(), addr, [32]byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(p string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
	}
	check(dir, 0o700)
	for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		check(filepath.Join(dir, name), 0o600)
	}

	// An existing directory open to others is tightened; a shared one
	// is refused and left alone.
	loose := filepath.Join(t.TempDir(), "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	openTest(t, loose)
	check(loose, 0o700)
	check(filepath.Join(loose, FileName), 0o600)

	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(shared); err == nil {
		s.Close()
		t.Fatal("Open accepted a directory with the sticky bit")
	}
	check(shared, 0o777)
	if _, err := os.Stat(filepath.Join(shared, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused Open left a database behind: %v", err)
	}
}

// TestMigrations: a new database is at the latest version, reopening
// applies nothing twice, and a database from a newer program is refused.
func TestMigrations(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir) // reopen: no migration may run twice (CREATE TABLE would fail)
	versions := func() []int {
		var vs []int
		err := s.read(t.Context(), func(tx *sql.Tx) error {
			rows, err := tx.Query(`SELECT version FROM schema_version ORDER BY version`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var v int
				if err := rows.Scan(&v); err != nil {
					return err
				}
				vs = append(vs, v)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	vs := versions()
	if len(vs) != len(migrations) || vs[len(vs)-1] != len(migrations) {
		t.Fatalf("schema versions %v, want 1..%d", vs, len(migrations))
	}
	err = s.w.do(t.Context(), func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO schema_version (version) VALUES (?)`, len(migrations)+1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(dir); !errors.Is(err, ErrSchemaTooNew) {
		if err == nil {
			s2.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// TestBatchIsolation runs one batch by hand in which a request in the
// middle fails: the requests around it commit, its own writes do not.
func TestBatchIsolation(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	insert := func(address string) writeFn {
		return func(tx *wtx) error {
			_, err := tx.exec(`INSERT INTO accounts (address, state, mode, created, last_seq) VALUES (?, 'invited', '', 1, 0)`, address)
			return err
		}
	}
	failing := errors.New("request failed after writing")
	batch := []*request{
		{fn: insert("a@example.test"), done: make(chan error, 1)},
		{fn: func(tx *wtx) error {
			if err := insert("b@example.test")(tx); err != nil {
				return err
			}
			return failing
		}, done: make(chan error, 1)},
		{fn: insert("a@example.test"), done: make(chan error, 1)}, // violates the primary key
		{fn: insert("c@example.test"), done: make(chan error, 1)},
	}
	skipped := &request{fn: insert("d@example.test"), done: make(chan error, 1)}
	skipped.state.Store(reqCancelled) // as the waiter does when its context ends
	batch = append(batch, skipped)

	commits := s.w.commits.Load()
	s.w.run(batch)
	if got := s.w.commits.Load() - commits; got != 1 {
		t.Fatalf("%d commits for one batch", got)
	}
	wantErr := []error{nil, failing, errors.New("constraint"), nil}
	for i, r := range batch[:4] {
		err := <-r.done
		if (err == nil) != (wantErr[i] == nil) {
			t.Fatalf("request %d: error %v, want %v", i, err, wantErr[i])
		}
	}
	if len(skipped.done) != 0 {
		t.Fatal("a cancelled request was answered by the writer")
	}
	for addr, want := range map[string]bool{"a@example.test": true, "b@example.test": false, "c@example.test": true, "d@example.test": false} {
		_, err := s.Accounts().Get(ctx, addr)
		if got := err == nil; got != want {
			t.Errorf("%s present %v, want %v (%v)", addr, got, want, err)
		}
	}
}

// TestDeliverFailsInBatch: a delivery whose reader fails midway, in one
// batch with others, is rolled back alone (its savepoint): the others
// commit, numbered without a gap, and it leaves no delivery record.
func TestDeliverFailsInBatch(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	const addr = "bob@b.test"
	code := sha256.Sum256([]byte("code"))
	if err := s.Accounts().AddInvited(ctx, addr, code); err != nil {
		t.Fatal(err)
	}
	if err := s.Accounts().Activate(ctx, addr, code, store.ModeParanoid); err != nil {
		t.Fatal(err)
	}
	// The writer is held while the deliveries queue, so they form one
	// batch when it is released.
	started, release, held := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		held <- s.w.do(ctx, func(*wtx) error { close(started); <-release; return nil })
	}()
	<-started
	const n, bad = 5, 2
	failing := errors.New("spool broken")
	id := func(i int) store.MessageID { return sha256.Sum256(fmt.Append(nil, i)) }
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			data := bytes.Repeat([]byte{byte(i)}, 3<<20) // several pieces of the blob's copy
			r := io.Reader(bytes.NewReader(data))
			if i == bad {
				r = io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(failing))
			}
			_, _, errs[i] = s.Mailbox().Deliver(ctx, addr, id(i), r, int64(len(data)), time.Now())
		})
	}
	for len(s.w.reqs) < n {
		time.Sleep(time.Millisecond)
	}
	commits := s.w.commits.Load()
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if got := s.w.commits.Load() - commits; got != 2 {
		t.Fatalf("%d commits, want 2: the held request's and the deliveries'", got)
	}
	for i, err := range errs {
		if (i == bad) != errors.Is(err, failing) || i != bad && err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	feed, err := s.Mailbox().Changes(ctx, addr, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range feed {
		if c.Seq != int64(i+1) || c.Size != 3<<20 {
			t.Fatalf("feed %+v", feed)
		}
	}
	if len(feed) != n-1 {
		t.Fatalf("%d documents, want %d", len(feed), n-1)
	}
	_, created, err := s.Mailbox().Deliver(ctx, addr, id(bad), strings.NewReader("again"), 5, time.Now())
	if err != nil || !created {
		t.Fatalf("delivery after the failed one: created %v, %v", created, err)
	}
}

// TestDeletedDataLeavesNoTrace: a delivered message's ciphertext, once
// its document is deleted and the store checkpointed, is in none of the
// store's files — not in the database's free pages, not in the WAL
// (docs/spec/store.md §7.1). Without secure_delete the bytes stay in the
// database file and this fails.
func TestDeletedDataLeavesNoTrace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := t.Context()
	code := sha256.Sum256([]byte("code"))
	if err := s.Accounts().AddInvited(ctx, "bob@b.test", code); err != nil {
		t.Fatal(err)
	}
	if err := s.Accounts().Activate(ctx, "bob@b.test", code, store.ModeParanoid); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 200<<10) // overflow pages, as real messages take
	rand.Read(secret)
	docID, _, err := s.Mailbox().Deliver(ctx, "bob@b.test", store.MessageID(sha256.Sum256(secret)), bytes.NewReader(secret), int64(len(secret)), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Another document written after it, so the deleted one is not simply
	// the tail of the file.
	keep := bytes.Repeat([]byte("k"), 50<<10)
	if _, _, err := s.Mailbox().Deliver(ctx, "bob@b.test", store.MessageID(sha256.Sum256(keep)), bytes.NewReader(keep), int64(len(keep)), time.Now()); err != nil {
		t.Fatal(err)
	}
	doc, err := s.Mailbox().Get(ctx, "bob@b.test", docID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mailbox().Delete(ctx, "bob@b.test", docID, doc.Revision, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// Every 4 KiB window of the secret is looked for: a page of it
	// anywhere would hold one.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) == 0 {
		t.Fatal("no files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off+64 <= len(secret); off += 4 << 10 {
			if bytes.Contains(b, secret[off:off+64]) {
				t.Fatalf("%s still holds the deleted ciphertext (at secret offset %d)", filepath.Base(f), off)
			}
		}
	}
}

// TestDeliverMemory is not parallel: it measures the process's memory,
// which includes SQLite's (WebAssembly memory, outside Go's heap).
func TestDeliverMemory(t *testing.T) {
	storetest.RunDeliverMemory(t, openTest(t, t.TempDir()))
}

// TestPutMemory and TestEnqueueMemory are not parallel either.
func TestPutMemory(t *testing.T) { storetest.RunPutMemory(t, openTest(t, t.TempDir())) }

func TestEnqueueMemory(t *testing.T) { storetest.RunEnqueueMemory(t, openTest(t, t.TempDir())) }
