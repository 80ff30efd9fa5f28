package vault

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"umbra/atomicfile"
)

// newVault creates a vault of fixedKeys under testPassword with minimal
// parameters in a fresh directory and returns its path.
func newVault(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.vault")
	if err := Create(path, testPassword, fixedKeys(), MinimalParams()); err != nil {
		t.Fatal(err)
	}
	return path
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertOnlyFile checks that dir holds exactly the vault: no temporary file
// was left behind.
func assertOnlyFile(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only %s", names, filepath.Base(path))
	}
}

func TestCreateOpen(t *testing.T) {
	t.Parallel()
	path := newVault(t)
	k, err := Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	assertKeysEqual(t, k, fixedKeys())
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	assertOnlyFile(t, path)
}

func TestCreateRefusesOverwrite(t *testing.T) {
	t.Parallel()
	path := newVault(t)
	before := readBytes(t, path)
	err := Create(path, []byte("other"), minimalKeys(), MinimalParams())
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("got %v, want fs.ErrExist", err)
	}
	if !bytes.Equal(readBytes(t, path), before) {
		t.Fatal("Create changed an existing vault")
	}
	assertOnlyFile(t, path)
}

func TestOpenWrongPasswordChangesNothing(t *testing.T) {
	t.Parallel()
	path := newVault(t)
	before := readBytes(t, path)
	_, err := Open(path, []byte("wrong"))
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("got %v, want ErrWrongPassword", err)
	}
	if !bytes.Equal(readBytes(t, path), before) {
		t.Fatal("a failed open changed the file")
	}
}

func TestOpenBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing"), testPassword); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 3*MaxFileSize), 0o600); err != nil {
		t.Fatal(err)
	}
	var fe *FormatError
	if _, err := Open(big, testPassword); !errors.As(err, &fe) || fe.Field != "vault" {
		t.Errorf("oversize file: got %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	path := newVault(t)
	newPW := []byte("new password")
	p := Params{Time: 2, MemoryKiB: 9 << 10, Threads: 2}
	if err := ChangePassword(path, testPassword, newPW, p); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, testPassword); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("old password after change: got %v, want ErrWrongPassword", err)
	}
	k, err := Open(path, newPW)
	if err != nil {
		t.Fatal(err)
	}
	assertKeysEqual(t, k, fixedKeys())
	h, err := parseHeader(readBytes(t, path), productionBounds)
	if err != nil {
		t.Fatal(err)
	}
	if h.params != p {
		t.Fatalf("params %+v, want %+v", h.params, p)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("after change: %v, %v", st.Mode(), err)
	}
	assertOnlyFile(t, path)
}

func TestChangePasswordRefusals(t *testing.T) {
	t.Parallel()
	path := newVault(t)
	before := readBytes(t, path)
	if err := ChangePassword(path, []byte("wrong"), []byte("new"), MinimalParams()); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong old password: got %v", err)
	}
	if err := ChangePassword(path, testPassword, nil, MinimalParams()); !errors.Is(err, ErrEmptyPassword) {
		t.Errorf("empty new password: got %v", err)
	}
	var fe *FormatError
	if err := ChangePassword(path, testPassword, []byte("new"), Params{1, 1 << 30, 1}); !errors.As(err, &fe) {
		t.Errorf("hostile params: got %v", err)
	}
	if !bytes.Equal(readBytes(t, path), before) {
		t.Fatal("a refused password change changed the file")
	}
	if _, err := Open(path, testPassword); err != nil {
		t.Fatal(err)
	}
	assertOnlyFile(t, path)
}

func TestSave(t *testing.T) {
	t.Parallel()
	path := newVault(t)
	before := readBytes(t, path)
	k := fixedKeys()
	k.Encryption = seedOf(40)
	k.Recovery = nil

	if err := Save(path, []byte("wrong"), k); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: got %v", err)
	}
	if !bytes.Equal(readBytes(t, path), before) {
		t.Fatal("Save with a wrong password changed the file")
	}
	if err := Save(path, testPassword, k); err != nil {
		t.Fatal(err)
	}
	got, err := Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	assertKeysEqual(t, got, k)
	after := readBytes(t, path)
	if !bytes.Equal(after[10:19], before[10:19]) {
		t.Fatal("Save changed the parameters")
	}
	if bytes.Equal(after[19:19+saltSize], before[19:19+saltSize]) {
		t.Fatal("Save reused the salt")
	}
	assertOnlyFile(t, path)
	if err := Save(filepath.Join(t.TempDir(), "none"), testPassword, k); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Save to a missing file: got %v", err)
	}
}

// TestWriteFaults simulates a failure at each step of the atomic write
// (spec §6): the old vault must stay whole and openable with the old
// password, and no temporary file may remain.
func TestWriteFaults(t *testing.T) {
	t.Parallel()
	replacement, err := Seal([]byte("new"), minimalKeys(), MinimalParams())
	if err != nil {
		t.Fatal(err)
	}
	injected := errors.New("injected fault")
	for _, step := range []string{"write", "sync", "rename"} {
		path := newVault(t)
		before := readBytes(t, path)
		err := atomicfile.Write(path, replacement, true, func(s string) error {
			if s == step {
				return injected
			}
			return nil
		})
		if !errors.Is(err, injected) {
			t.Fatalf("%s: got %v, want the injected fault", step, err)
		}
		if !bytes.Equal(readBytes(t, path), before) {
			t.Fatalf("%s: the old vault changed", step)
		}
		if _, err := Open(path, testPassword); err != nil {
			t.Fatalf("%s: old vault no longer opens: %v", step, err)
		}
		assertOnlyFile(t, path)
	}
	for _, step := range []string{"write", "sync", "link"} {
		dir := t.TempDir()
		path := filepath.Join(dir, "new.vault")
		err := atomicfile.Write(path, replacement, false, func(s string) error {
			if s == step {
				return injected
			}
			return nil
		})
		if !errors.Is(err, injected) {
			t.Fatalf("create, %s: got %v, want the injected fault", step, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("create, %s: left %d files behind", step, len(entries))
		}
	}
}

// TestWriteIntoMissingDirectory: a real (not injected) failure to create
// the temporary file is reported.
func TestWriteIntoMissingDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "keys.vault")
	if err := Create(path, testPassword, minimalKeys(), MinimalParams()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
}
