package spool

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"umbra/connguard"
)

func body(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// write writes p to b in pieces of odd sizes, as a network reader would.
func write(t *testing.T, b *Body, p []byte) {
	t.Helper()
	for len(p) > 0 {
		n := min(len(p), 7919)
		if _, err := b.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
}

func readBack(t *testing.T, b *Body) []byte {
	t.Helper()
	r, err := b.Reader()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	mem, disk := connguard.NewBudget(8<<20), connguard.NewBudget(16<<20)
	s, err := New(t.TempDir(), 1<<20, mem, disk)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 4 << 10, 1 << 20, 1<<20 + 1, 5<<20 + 3} {
		want := body(t, n)
		b := s.Body(int64(n))
		write(t, b, want)
		for range 2 { // a body reads back as often as needed
			if got := readBack(t, b); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: read back %d bytes, not what was written", n, len(got))
			}
		}
		if inMem := b.file == nil; inMem != (n <= 1<<20) {
			t.Errorf("%d bytes: held in memory %v", n, inMem)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if now, _ := mem.Used(); now != 0 {
			t.Errorf("%d bytes: %d bytes of memory budget not given back", n, now)
		}
		if now, _ := disk.Used(); now != 0 {
			t.Errorf("%d bytes: %d bytes of disk budget not given back", n, now)
		}
	}
}

// TestFileSealed: a body on disk has no name in the spool, its bytes are
// not the body's, and one altered byte makes it unreadable.
func TestFileSealed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := New(dir, 1<<10, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte("Subject: the plaintext marker that must not reach the disk")
	plain := bytes.Repeat(marker, (3<<20)/len(marker))
	b := s.Body(int64(len(plain)))
	write(t, b, plain)
	if runtime.GOOS == "linux" {
		ents, _ := os.ReadDir(dir)
		if len(ents) != 0 {
			t.Errorf("the spool directory lists %d files while a body is written; want none", len(ents))
		}
	}
	if _, err := b.Reader(); err != nil { // ends the file
		t.Fatal(err)
	}
	onDisk, err := io.ReadAll(io.NewSectionReader(b.file.f, 0, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	if len(onDisk) < len(plain) {
		t.Fatalf("file of %d bytes for a body of %d", len(onDisk), len(plain))
	}
	if bytes.Contains(onDisk, marker[:16]) {
		t.Fatal("the body's text is in its spool file")
	}
	// Alter one byte of a middle chunk: reading must fail, not return
	// other bytes.
	if _, err := b.file.f.WriteAt([]byte{onDisk[len(onDisk)/2] ^ 1}, int64(len(onDisk)/2)); err != nil {
		t.Fatal(err)
	}
	ra, err := b.file.decrypt()
	if err == nil {
		_, err = io.ReadAll(io.NewSectionReader(ra, 0, int64(len(plain))))
	}
	if err == nil {
		t.Fatal("an altered spool file read back without error")
	}
	b.Close()
}

func TestLimits(t *testing.T) {
	t.Parallel()
	// 1.5 MiB: a 1 MiB body holds its last two buffers while it grows.
	mem, disk := connguard.NewBudget(3<<19), connguard.NewBudget(2<<20)
	s, err := New(t.TempDir(), 1<<20, mem, disk)
	if err != nil {
		t.Fatal(err)
	}

	long := s.Body(10)
	if _, err := long.Write(make([]byte, 11)); !errors.Is(err, ErrTooLong) {
		t.Errorf("11 bytes into a body of 10: %v, want ErrTooLong", err)
	}
	if _, err := long.Reader(); !errors.Is(err, ErrTooLong) {
		t.Errorf("Reader after a failed Write: %v, want the Write's error", err)
	}
	long.Close()

	closed := s.Body(10)
	closed.Write([]byte("0123456789"))
	r, err := closed.Reader()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if _, err := closed.Reader(); err == nil {
		t.Error("Reader of a closed body: no error")
	}
	_ = r

	// Memory: one body of 1 MiB fits the budget; a second one, growing
	// while the first is held, does not.
	first := s.Body(1 << 20)
	write(t, first, make([]byte, 1<<20))
	second := s.Body(1 << 20)
	if _, err := second.Write(make([]byte, 600<<10)); !errors.Is(err, connguard.ErrBudget) {
		t.Errorf("memory budget passed: %v, want ErrBudget", err)
	}
	first.Close()
	second.Close()

	// Disk: a body moves to a file once it passes memMax, and the disk
	// budget is paid as bytes arrive, not as announced.
	big := s.Body(64 << 20)
	write(t, big, make([]byte, 1<<20))
	if now, _ := disk.Used(); now != 0 || big.file != nil {
		t.Errorf("1 MiB body: disk budget used %d, in a file %v; want it in memory", now, big.file != nil)
	}
	if _, err := big.Write(make([]byte, 1)); err != nil {
		t.Fatalf("past memMax under a 2 MiB disk budget: %v", err)
	}
	if now, _ := disk.Used(); now != 2<<20 || big.file == nil {
		t.Errorf("1 MiB + 1 byte: disk budget used %d, in a file %v; want 2 MiB in a file", now, big.file != nil)
	}
	if now, _ := mem.Used(); now != 0 {
		t.Errorf("memory budget %d once the body is in a file, want 0", now)
	}
	write(t, big, make([]byte, 1<<20-1))
	if _, err := big.Write(make([]byte, 1)); !errors.Is(err, connguard.ErrBudget) {
		t.Errorf("disk budget passed: %v, want ErrBudget", err)
	}
	big.Close()
	if now, _ := disk.Used(); now != 0 {
		t.Errorf("disk budget %d after Close, want 0", now)
	}
}

// TestLeftoversRemoved: New removes body files a dead process left, and
// nothing else.
func TestLeftoversRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{filePrefix + "123", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(dir, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "keep.txt" {
		t.Errorf("after New the spool holds %v, want only keep.txt", ents)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 && runtime.GOOS != "windows" {
		t.Errorf("spool directory mode %v", fi.Mode().Perm())
	}
}

// TestMemoryOnly: a spool without a directory holds every body in memory,
// within the memory budget.
func TestMemoryOnly(t *testing.T) {
	t.Parallel()
	mem := connguard.NewBudget(16 << 20)
	s, err := New("", 0, mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := body(t, 5<<20)
	b := s.Body(8 << 20)
	write(t, b, want)
	if b.file != nil {
		t.Fatal("a spool without a directory made a file")
	}
	if got := readBack(t, b); !bytes.Equal(got, want) {
		t.Fatal("read back other bytes")
	}
	if now, _ := mem.Used(); now < 5<<20 {
		t.Errorf("memory budget %d for a 5 MiB body", now)
	}
	b.Close()
	if now, _ := mem.Used(); now != 0 {
		t.Errorf("memory budget %d after Close", now)
	}
}
