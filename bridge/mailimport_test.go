package bridge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"umbra/bridge/mailstore"
	"umbra/vault"
)

// importMaildir makes a Maildir++ tree in dir: n messages at the top and
// n in the folder .A.
func importMaildir(t *testing.T, dir string, n int) {
	t.Helper()
	for _, sub := range []string{"", ".A"} {
		for i := range n {
			name := filepath.Join(dir, sub, "cur", fmt.Sprintf("%04d.x:2,S", i))
			if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, fmt.Appendf(nil, "Subject: %s %d\n\nbody\n", sub, i), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// interruptedImport runs imp and cancels it after its first commit.
func interruptedImport(t *testing.T, dir string, keys *vault.Keys, imp Import) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	imp.Progress = func(ImportProgress) {
		if calls++; calls == 2 { // the first call reports where the run starts
			cancel()
		}
	}
	if _, err := RunImport(ctx, dir, keys, imp); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v", err)
	}
}

// An interrupted Maildir++ import goes on from its last commit: across
// folders, with neither a message lost nor one repeated; run once more,
// every message is a duplicate.
func TestImportMaildirResumes(t *testing.T) {
	t.Parallel()
	dir, keys, src := t.TempDir(), offlineKeys(t), t.TempDir()
	importMaildir(t, src, 150)
	imp := Import{Format: "maildir", Path: src}
	interruptedImport(t, dir, keys, imp)
	p, err := RunImport(context.Background(), dir, keys, imp)
	if err != nil || !p.Resumed || p.Imported != 300 || p.Duplicates != 0 || p.Malformed != 0 {
		t.Fatalf("resumed import: %+v, %v", p, err)
	}
	st, err := openStore(dir, keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, folder := range []string{mailstore.Inbox, "A"} {
		mb, err := st.Mailbox(context.Background(), folder)
		if err != nil || mb.Messages != 150 || mb.Unseen != 0 {
			t.Errorf("%s: %+v, %v; want 150 seen messages", folder, mb, err)
		}
	}
	st.Close()
	p, err = RunImport(context.Background(), dir, keys, imp)
	if err != nil || p.Resumed || p.Imported != 0 || p.Duplicates != 300 {
		t.Fatalf("import again: %+v, %v", p, err)
	}
}

// A Maildir that changed under an interrupted import (its last file done
// no longer where it was) is imported again from the start: what the
// first run stored counts as duplicates, and nothing is lost.
func TestImportMaildirChangedWhileInterrupted(t *testing.T) {
	t.Parallel()
	dir, src := t.TempDir(), t.TempDir()
	keys := offlineKeys(t)
	importMaildir(t, src, 150)
	imp := Import{Format: "maildir", Path: src, Folder: "Old"}
	interruptedImport(t, dir, keys, imp)
	if err := os.WriteFile(filepath.Join(src, ".A", "cur", "5000.new:2,S"), []byte("Subject: new\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(src, ".A", "cur", "0000.x:2,S"), filepath.Join(src, ".A", "cur", "9999.x:2,S")); err != nil {
		t.Fatal(err)
	}
	p, err := RunImport(context.Background(), dir, keys, imp)
	if err != nil || p.Imported != 101 || p.Duplicates != 200 {
		t.Fatalf("import after the change: %+v, %v; want the first commit's 200 as duplicates", p, err)
	}
}

// An mbox that changed under an interrupted import (no message begins
// where the last run stopped) is imported again from the start.
func TestImportMboxChangedWhileInterrupted(t *testing.T) {
	t.Parallel()
	dir, keys := t.TempDir(), offlineKeys(t)
	src := filepath.Join(t.TempDir(), "in.mbox")
	var mbox []byte
	for i := range 250 {
		mbox = fmt.Appendf(mbox, "From a@b Mon Dec  7 11:00:00 2026\nSubject: %d\n\nbody\n\n", i)
	}
	if err := os.WriteFile(src, mbox, 0o600); err != nil {
		t.Fatal(err)
	}
	imp := Import{Format: "mbox", Path: src}
	interruptedImport(t, dir, keys, imp)
	if err := os.WriteFile(src, append([]byte("From x@y Mon Dec  7 10:00:00 2026\nSubject: new\n\n\n"), mbox...), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := RunImport(context.Background(), dir, keys, imp)
	if err != nil || !p.Resumed || p.Imported != 51 || p.Duplicates != 200 {
		t.Fatalf("import after the change: %+v, %v; want the first commit's 200 as duplicates", p, err)
	}
}
