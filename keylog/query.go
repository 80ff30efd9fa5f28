package keylog

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// The log's queries (spec §8): one grammar and one payload format, carried
// by DMTP LOG (docs/spec/dmtp.md §5.9) and by DMAP GET log
// (docs/spec/dmap.md §9.4).
const (
	OpCheckpoint  = "CHECKPOINT"  // the newest signed checkpoint
	OpInclusion   = "INCLUSION"   // INCLUSION <index> <size>: an inclusion proof
	OpConsistency = "CONSISTENCY" // CONSISTENCY <older> <newer>: a consistency proof
	OpRecords     = "RECORDS"     // RECORDS <start> <count>: records as frames
	OpFind        = "FIND"        // FIND <hash>: the index of a record
)

// MaxAnswer bounds an answer's payload (DMTP's LOG payload limit).
const MaxAnswer = 1 << 20

// MaxRecordsPerQuery bounds RECORDS' count.
const MaxRecordsPerQuery = 64

// maxQueryLen bounds a query's text.
const maxQueryLen = 128

// ErrQuery is wrapped by every malformed query.
var ErrQuery = errors.New("keylog: malformed query")

// ErrNotFound is returned by FIND for a record the log does not hold.
var ErrNotFound = errors.New("keylog: no such record in the log")

// Query is one parsed query.
type Query struct {
	Op   string
	A, B int64    // INCLUSION index size, CONSISTENCY older newer, RECORDS start count
	Hash [32]byte // FIND: SHA-256 of the record
}

// String is the query's wire form.
func (q Query) String() string {
	switch q.Op {
	case OpInclusion, OpConsistency, OpRecords:
		return fmt.Sprintf("%s %d %d", q.Op, q.A, q.B)
	case OpFind:
		return OpFind + " " + base64.RawURLEncoding.EncodeToString(q.Hash[:])
	}
	return q.Op
}

// ParseQuery parses a query's wire form: the operation in upper case and
// its arguments, separated by single spaces; numbers in decimal without
// sign or leading zeros; FIND's hash in unpadded base64url (43
// characters).
func ParseQuery(s string) (Query, error) {
	if len(s) > maxQueryLen {
		return Query{}, fmt.Errorf("%w: longer than %d bytes", ErrQuery, maxQueryLen)
	}
	// Printable ASCII and spaces only: Go's base64 decoder skips CR and
	// LF, which would give one hash several spellings.
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r > '~' }) {
		return Query{}, fmt.Errorf("%w: a byte that is not printable ASCII", ErrQuery)
	}
	f := strings.Split(s, " ")
	q := Query{Op: f[0]}
	want := map[string]int{OpCheckpoint: 1, OpInclusion: 3, OpConsistency: 3, OpRecords: 3, OpFind: 2}[q.Op]
	if want == 0 {
		return Query{}, fmt.Errorf("%w: unknown operation %q", ErrQuery, clip(q.Op))
	}
	if len(f) != want {
		return Query{}, fmt.Errorf("%w: %s takes %d arguments", ErrQuery, q.Op, want-1)
	}
	if q.Op == OpFind {
		h, err := base64.RawURLEncoding.Strict().DecodeString(f[1])
		if err != nil || len(h) != len(q.Hash) {
			return Query{}, fmt.Errorf("%w: FIND wants a SHA-256 hash in unpadded base64url", ErrQuery)
		}
		copy(q.Hash[:], h)
		return q, nil
	}
	if want == 3 {
		var err error
		if q.A, err = number(f[1]); err == nil {
			q.B, err = number(f[2])
		}
		if err != nil {
			return Query{}, fmt.Errorf("%w: %s: %v", ErrQuery, q.Op, err)
		}
		if q.Op == OpRecords && (q.B < 1 || q.B > MaxRecordsPerQuery) {
			return Query{}, fmt.Errorf("%w: RECORDS count must be 1 to %d", ErrQuery, MaxRecordsPerQuery)
		}
	}
	return q, nil
}

func number(s string) (int64, error) {
	if s == "" || len(s) > 18 || (len(s) > 1 && s[0] == '0') || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a canonical decimal number", clip(s))
	}
	return strconv.ParseInt(s, 10, 64)
}

// Answer answers q from the log: the payload of spec §8. ErrRange for an
// index or size the log does not have, ErrNotFound for a FIND of a record
// it does not hold.
func (l *Log) Answer(ctx context.Context, q Query) ([]byte, error) {
	switch q.Op {
	case OpCheckpoint:
		_, signed, err := l.Checkpoint(ctx)
		return signed, err
	case OpInclusion:
		p, err := l.ProveInclusion(ctx, q.A, q.B)
		return EncodeProof(p), err
	case OpConsistency:
		p, err := l.ProveConsistency(ctx, q.A, q.B)
		return EncodeProof(p), err
	case OpRecords:
		return l.records(ctx, q.A, q.B)
	case OpFind:
		n, err := l.Find(ctx, q.Hash)
		if err != nil {
			return nil, err
		}
		return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
	}
	return nil, fmt.Errorf("%w: unknown operation %q", ErrQuery, clip(q.Op))
}

// records answers RECORDS: from start, at most count records and at most
// MaxAnswer bytes, at least one.
func (l *Log) records(ctx context.Context, start, count int64) ([]byte, error) {
	size, err := l.st.Size(ctx)
	if err != nil {
		return nil, err
	}
	if start < 0 || start >= size {
		return nil, ErrRange
	}
	var out []byte
	for n := start; n < size && n < start+count; n++ {
		r, err := l.st.Record(ctx, n)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && len(out)+4+len(r) > MaxAnswer {
			break
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(r)))
		out = append(out, r...)
	}
	return out, nil
}

// DecodeRecords parses RECORDS' payload: frames of uint32(len) ‖ record,
// 1 ≤ len ≤ MaxRecord, at least one and at most MaxRecordsPerQuery.
func DecodeRecords(b []byte) ([][]byte, error) {
	if len(b) > MaxAnswer {
		return nil, fmt.Errorf("%w: records answer of %d bytes", ErrQuery, len(b))
	}
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 || len(out) == MaxRecordsPerQuery {
			return nil, fmt.Errorf("%w: records answer: a truncated frame or too many", ErrQuery)
		}
		n := int(binary.BigEndian.Uint32(b))
		if n < 1 || n > MaxRecord || n > len(b)-4 {
			return nil, fmt.Errorf("%w: records answer: a frame of %d bytes", ErrQuery, n)
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: records answer with no record", ErrQuery)
	}
	return out, nil
}

// DecodeIndex parses FIND's payload: a big-endian uint64 below 2⁶³.
func DecodeIndex(b []byte) (int64, error) {
	if len(b) != 8 || b[0]&0x80 != 0 {
		return 0, fmt.Errorf("%w: an index is 8 bytes below 2^63", ErrQuery)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// finder maps records' hashes to their indexes for FIND. It follows the
// storage, so records another node appended are found too: each look-up
// first reads what was appended since the last.
type finder struct {
	mu   sync.Mutex
	next int64
	idx  map[[32]byte]int64
}

// Find returns the index of the record whose SHA-256 is h (for a signet:
// its fingerprint), or ErrNotFound.
func (l *Log) Find(ctx context.Context, h [32]byte) (int64, error) {
	l.find.mu.Lock()
	defer l.find.mu.Unlock()
	size, err := l.st.Size(ctx)
	if err != nil {
		return 0, err
	}
	if l.find.idx == nil {
		l.find.idx = map[[32]byte]int64{}
	}
	for ; l.find.next < size; l.find.next++ {
		r, err := l.st.Record(ctx, l.find.next)
		if err != nil {
			return 0, fmt.Errorf("keylog: index record %d: %w", l.find.next, err)
		}
		if _, dup := l.find.idx[sha256.Sum256(r)]; !dup {
			l.find.idx[sha256.Sum256(r)] = l.find.next
		}
	}
	n, ok := l.find.idx[h]
	if !ok {
		return 0, ErrNotFound
	}
	return n, nil
}
