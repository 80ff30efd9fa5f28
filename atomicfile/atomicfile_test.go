package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateReplace(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "f")
	if err := Create(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := Create(p, []byte("two")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over a file: %v", err)
	}
	if err := Replace(p, []byte("three")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "three" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %v", b, fi.Mode())
	}
}

// A failure at any step before the new name is in place leaves the old
// content and no temporary file behind.
func TestFaultAtEachStep(t *testing.T) {
	t.Parallel()
	for _, replace := range []bool{true, false} {
		steps := []string{"write", "sync", "link"}
		if replace {
			steps = []string{"write", "sync", "rename"}
		}
		for _, step := range steps {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			if replace {
				if err := Create(p, []byte("old")); err != nil {
					t.Fatal(err)
				}
			}
			boom := errors.New("boom")
			err := Write(p, []byte("new"), replace, func(s string) error {
				if s == step {
					return boom
				}
				return nil
			})
			if !errors.Is(err, boom) {
				t.Fatalf("replace=%v step %s: %v", replace, step, err)
			}
			entries, _ := os.ReadDir(dir)
			b, rerr := os.ReadFile(p)
			switch {
			case replace && (string(b) != "old" || len(entries) != 1):
				t.Fatalf("replace step %s: content %q, %d entries", step, b, len(entries))
			case !replace && (rerr == nil || len(entries) != 0):
				t.Fatalf("create step %s: file exists or temp left (%d entries)", step, len(entries))
			}
		}
	}
}
