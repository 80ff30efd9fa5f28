// Package spool holds a message body while a server receives and checks
// it, before the store takes it (issue 11): small bodies in memory that
// grows with what arrives, larger ones in a file that is encrypted under
// a key only this process holds, and read back as often as the server
// needs. So a connection that announces a large
// body holds little memory however long it takes to send it, and what a
// body left on disk (the file, or the blocks it freed) is unreadable once
// the body is closed or the process dies: its key was never written
// anywhere (docs/spec/store.md §7.1 asks the same of deleted data).
//
// The file is an age file (filippo.io/age: ChaCha20-Poly1305 in 64 KiB
// chunks, each authenticated, the last one marked, so a file cut short or
// altered fails to read) whose file key stays in memory. On Unix its name
// is removed as soon as it is created: it lives only through the open
// descriptor, and the kernel frees it whatever happens to the process.
//
// Memory and disk are paid for from budgets shared by every body of a
// server (connguard.Budget); a body that would pass one fails its Write
// with an error wrapping connguard.ErrBudget, and its sender is told to
// retry later.
//
// Concurrency: a Spool is safe for concurrent use; a Body is used by one
// goroutine at a time.
package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"umbra/connguard"
)

// ErrTooLong is returned by Write past the limit a body was opened with.
var ErrTooLong = errors.New("spool: body longer than its limit")

// diskStep is how much of the disk budget a file body takes at a time, as
// its bytes arrive.
const diskStep = 1 << 20

// filePrefix names the spool's files, so New can sweep leftovers (a
// system where an open file's name cannot be removed) and nothing else.
const filePrefix = "body-"

// Spool makes bodies. The zero value is not usable; call New.
type Spool struct {
	dir       string
	memMax    int64
	mem, disk *connguard.Budget
}

// New returns a spool whose bodies are held in memory paid from mem while
// they have at most memMax bytes, and in files under dir paid from disk
// once they have more (nil budgets are unbounded). It creates dir, or
// makes it private (mode 0700), and removes any body file a previous
// process left there: without its key, which died with that process,
// nobody can read it.
//
// With dir "" the spool has no files: every body stays in memory, bounded
// by its limit and mem alone (for a server with no directory of its own).
func New(dir string, memMax int64, mem, disk *connguard.Budget) (*Spool, error) {
	if dir == "" {
		return &Spool{memMax: math.MaxInt64, mem: mem}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // it may have existed
		return nil, fmt.Errorf("spool: make %s private: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: read %s: %w", dir, err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), filePrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("spool: remove a leftover body: %w", err)
			}
		}
	}
	return &Spool{dir: dir, memMax: memMax, mem: mem, disk: disk}, nil
}

// Body returns an empty body of at most limit bytes (a DMTP body's
// announced size, an SMTP server's message size limit). Close it when
// done.
func (s *Spool) Body(limit int64) *Body { return &Body{s: s, limit: limit} }

// Body is one message body being received: written once, from start to
// end, then read back as often as needed. It starts in memory and moves
// to a file when it passes the spool's memMax.
type Body struct {
	s     *Spool
	limit int64
	n     int64 // written so far
	err   error // sticky: the first Write error

	// In memory: buf grows with what arrives; held is what it took from
	// the memory budget.
	buf  []byte
	held int64

	file *fileBody // once the body passed memMax
	ra   io.ReaderAt
}

// Write appends p. Past the limit it fails with ErrTooLong; over a budget
// with an error wrapping connguard.ErrBudget. After an error, or after
// Reader, every Write fails.
func (b *Body) Write(p []byte) (int, error) {
	if b.err == nil && b.ra != nil {
		b.err = errors.New("spool: write after the body was read")
	}
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.limit-b.n {
		b.err = fmt.Errorf("%w (%d bytes)", ErrTooLong, b.limit)
		return 0, b.err
	}
	if b.file == nil && b.n+int64(len(p)) > b.s.memMax {
		b.err = b.spill()
	}
	switch {
	case b.err != nil:
	case b.file != nil:
		b.err = b.file.write(p, b.n)
	default:
		if b.err = b.grow(len(p)); b.err == nil {
			b.buf = append(b.buf, p...)
		}
	}
	if b.err != nil {
		return 0, b.err
	}
	b.n += int64(len(p))
	return len(p), nil
}

// firstBuffer is the memory a body starts with; it doubles from there,
// so a client that announces a large body and sends little holds little.
const firstBuffer = 64 << 10

// grow makes room for n more bytes in buf, taking the new buffer from the
// memory budget before the old one is given back, so that the budget
// counts both while one is copied into the other.
func (b *Body) grow(n int) error {
	need := int64(len(b.buf) + n)
	if need <= int64(cap(b.buf)) {
		return nil
	}
	end := min(b.limit, b.s.memMax) // the most this buffer will hold
	size := max(int64(2*cap(b.buf)), min(end, firstBuffer), need)
	if 2*size >= end {
		// The doubling after this one would pass the end: go there now.
		size = max(end, need)
	}
	if err := b.s.mem.Take(size); err != nil {
		return fmt.Errorf("spool: hold %d bytes in memory: %w", size, err)
	}
	next := make([]byte, len(b.buf), size)
	copy(next, b.buf)
	b.buf = next
	b.s.mem.Give(b.held)
	b.held = size
	return nil
}

// spill moves the body from memory into a file.
func (b *Body) spill() error {
	b.file = &fileBody{s: b.s}
	if err := b.file.write(b.buf, 0); err != nil {
		return err
	}
	b.s.mem.Give(b.held)
	b.held, b.buf = 0, nil
	return nil
}

// Len is how many bytes were written.
func (b *Body) Len() int64 { return b.n }

// Reader ends the writing and returns a reader of the body from its
// start. It fails if a Write failed. Each call returns a new reader; they
// may be used one after another or at once.
func (b *Body) Reader() (*io.SectionReader, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.ra == nil {
		if b.file == nil {
			b.ra = bytes.NewReader(b.buf)
		} else {
			ra, err := b.file.finish()
			if err != nil {
				b.err = err
				return nil, err
			}
			b.ra = ra
		}
	}
	return io.NewSectionReader(b.ra, 0, b.n), nil
}

// Close lets go of the body: its memory goes back to the budget, its file
// (and its key) is gone; readers of it fail from then on. It is safe to
// call more than once.
func (b *Body) Close() error {
	b.s.mem.Give(b.held)
	b.held, b.buf = 0, nil
	b.ra = closedReader{}
	if b.err == nil {
		b.err = errors.New("spool: body closed")
	}
	if b.file == nil {
		return nil
	}
	return b.file.close()
}

// closedReader is what readers of a closed body read from.
type closedReader struct{}

func (closedReader) ReadAt([]byte, int64) (int, error) {
	return 0, errors.New("spool: read of a closed body")
}

// fileBody is a body in an encrypted, nameless file.
type fileBody struct {
	s       *Spool
	f       *os.File
	name    string // to remove at Close where it could not be removed at once
	w       io.WriteCloser
	written int64 // bytes of the file, framing included, once finished
	fileKey []byte
	held    int64 // taken from the disk budget
}

func (fb *fileBody) write(p []byte, at int64) error {
	if fb.f == nil {
		if err := fb.open(); err != nil {
			return err
		}
	}
	// The disk budget is paid in steps as the bytes arrive; the age
	// framing adds 16 bytes per 64 KiB, which a step's rounding covers.
	if end := at + int64(len(p)); end > fb.held {
		step := (end - fb.held + diskStep - 1) / diskStep * diskStep
		if err := fb.s.disk.Take(step); err != nil {
			return fmt.Errorf("spool: hold %d more bytes on disk: %w", step, err)
		}
		fb.held += step
	}
	if _, err := fb.w.Write(p); err != nil {
		return fmt.Errorf("spool: write body: %w", err)
	}
	return nil
}

func (fb *fileBody) open() error {
	f, err := os.CreateTemp(fb.s.dir, filePrefix+"*")
	if err != nil {
		return fmt.Errorf("spool: create body file: %w", err)
	}
	fb.f, fb.name = f, f.Name()
	if err := os.Remove(fb.name); err == nil {
		fb.name = ""
	}
	w, err := age.Encrypt(f, (*keeper)(fb))
	if err != nil {
		return fmt.Errorf("spool: encrypt body file: %w", err)
	}
	fb.w = w
	return nil
}

// keeper is the age recipient of a body file: it keeps the file key in
// memory and writes a stanza that says only that the key is elsewhere.
type keeper fileBody

func (k *keeper) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	k.fileKey = append([]byte(nil), fileKey...)
	return []*age.Stanza{{Type: "umbra-spool"}}, nil
}

// finish ends the file and returns a reader of its plaintext, which
// checks each chunk as it reads it.
func (fb *fileBody) finish() (io.ReaderAt, error) {
	if err := fb.w.Close(); err != nil {
		return nil, fmt.Errorf("spool: finish body file: %w", err)
	}
	size, err := fb.f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("spool: size of body file: %w", err)
	}
	fb.written = size
	return fb.decrypt()
}

func (fb *fileBody) decrypt() (io.ReaderAt, error) {
	ra, _, err := age.DecryptReaderAt(fb.f, fb.written, age.NewInjectedFileKeyIdentity(fb.fileKey))
	if err != nil {
		return nil, fmt.Errorf("spool: read body file: %w", err)
	}
	return ra, nil
}

func (fb *fileBody) close() error {
	fb.s.disk.Give(fb.held)
	fb.held = 0
	clear(fb.fileKey)
	fb.fileKey = nil
	if fb.f == nil {
		return nil
	}
	err := fb.f.Close()
	fb.f = nil
	if fb.name != "" {
		err = errors.Join(err, os.Remove(fb.name))
		fb.name = ""
	}
	if err != nil {
		return fmt.Errorf("spool: close body file: %w", err)
	}
	return nil
}
