package keylog

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// Storage keeps a log's records and tree hashes. Append must be atomic and
// durable: after a crash either the record and all its hashes are there,
// or none of them.
type Storage interface {
	// Size returns the number of records.
	Size(ctx context.Context) (int64, error)
	// ReadHashes returns the stored hashes at the given indexes
	// (tlog.StoredHashIndex numbering).
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// Append stores record number n (the current size) and the hashes
	// tlog.StoredHashes computed for it, at indexes
	// StoredHashCount(n), StoredHashCount(n)+1, …; an error matching
	// ErrConflict if n is no longer the size (another process sharing
	// the storage appended first), and then it stores nothing.
	Append(ctx context.Context, n int64, record []byte, hashes []tlog.Hash) error
	// Record returns record number n.
	Record(ctx context.Context, n int64) ([]byte, error)
}

// MaxRecord bounds one record (a signet is far smaller).
const MaxRecord = 64 << 10

// Log is one domain's log over a Storage.
type Log struct {
	st     Storage
	signer *Signer
	origin string

	mu   sync.Mutex // serialises appends: one sequencer
	find finder     // FIND's index (query.go)
}

// New returns the log of domain over st, signing checkpoints with signer.
func New(domain string, st Storage, signer *Signer) *Log {
	return &Log{st: st, signer: signer, origin: Origin(domain)}
}

// ErrConflict is Storage.Append's error when the record number it was
// given was taken meanwhile by another process sharing the storage
// (several provider nodes on one database).
var ErrConflict = errors.New("keylog: record number taken by another appender")

// maxConflicts bounds how often Append starts again after ErrConflict:
// each conflict means another appender succeeded, so only a storm of
// appends from other processes reaches it.
const maxConflicts = 64

// Append adds record and returns its index, once it is durable. When
// another process sharing the storage appended first, it computes the
// record's hashes again at the new size, up to maxConflicts times: the
// storage is the sequencer, this Log only within its process.
func (l *Log) Append(ctx context.Context, record []byte) (int64, error) {
	if len(record) == 0 || len(record) > MaxRecord {
		return 0, fmt.Errorf("keylog: record of %d bytes (want 1 to %d)", len(record), MaxRecord)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for attempt := 1; ; attempt++ {
		n, err := l.st.Size(ctx)
		if err != nil {
			return 0, err
		}
		hashes, err := tlog.StoredHashes(n, record, l.reader(ctx))
		if err != nil {
			return 0, fmt.Errorf("keylog: hashes of record %d: %w", n, err)
		}
		err = l.st.Append(ctx, n, record, hashes)
		if errors.Is(err, ErrConflict) && attempt < maxConflicts {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("keylog: append record %d: %w", n, err)
		}
		return n, nil
	}
}

func (l *Log) reader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return l.st.ReadHashes(ctx, idx) })
}

// Checkpoint returns the current checkpoint and its signed form.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, []byte, error) {
	n, err := l.st.Size(ctx)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	c := Checkpoint{Origin: l.origin, Size: n}
	if n > 0 {
		if c.Hash, err = tlog.TreeHash(n, l.reader(ctx)); err != nil {
			return Checkpoint{}, nil, fmt.Errorf("keylog: tree hash: %w", err)
		}
	}
	signed, err := l.signer.Sign(c)
	return c, signed, err
}

// ErrRange is returned for an index or tree size the log does not have.
var ErrRange = errors.New("keylog: no such record or tree size")

// ProveInclusion returns the proof that record index is in the tree of
// size size.
func (l *Log) ProveInclusion(ctx context.Context, index, size int64) ([]tlog.Hash, error) {
	if err := l.checkSize(ctx, size); err != nil {
		return nil, err
	}
	if index < 0 || index >= size {
		return nil, ErrRange
	}
	return tlog.ProveRecord(size, index, l.reader(ctx))
}

// ProveConsistency returns the proof that the tree of size newer extends
// the tree of size older.
func (l *Log) ProveConsistency(ctx context.Context, older, newer int64) ([]tlog.Hash, error) {
	if err := l.checkSize(ctx, newer); err != nil {
		return nil, err
	}
	if older < 0 || older > newer {
		return nil, ErrRange
	}
	if older == 0 || older == newer {
		return nil, nil
	}
	return tlog.ProveTree(newer, older, l.reader(ctx))
}

// Record returns record index.
func (l *Log) Record(ctx context.Context, index int64) ([]byte, error) {
	if err := l.checkSize(ctx, index+1); err != nil {
		return nil, err
	}
	return l.st.Record(ctx, index)
}

func (l *Log) checkSize(ctx context.Context, size int64) error {
	n, err := l.st.Size(ctx)
	if err != nil {
		return err
	}
	if size < 1 || size > n {
		return ErrRange
	}
	return nil
}

// MemStorage keeps a log in memory, for tests and benchmarks.
type MemStorage struct {
	mu      sync.Mutex
	records [][]byte
	hashes  []tlog.Hash
}

func (m *MemStorage) Size(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.records)), nil
}

func (m *MemStorage) ReadHashes(_ context.Context, idx []int64) ([]tlog.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("keylog: no stored hash %d", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *MemStorage) Append(_ context.Context, n int64, record []byte, hashes []tlog.Hash) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n != int64(len(m.records)) || int64(len(m.hashes)) != tlog.StoredHashCount(n) {
		return fmt.Errorf("%w: append of record %d to a log of %d", ErrConflict, n, len(m.records))
	}
	m.records = append(m.records, append([]byte(nil), record...))
	m.hashes = append(m.hashes, hashes...)
	return nil
}

func (m *MemStorage) Record(_ context.Context, n int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n < 0 || n >= int64(len(m.records)) {
		return nil, ErrRange
	}
	return m.records[n], nil
}
