package dmap

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Parsers of the URL and header values of spec §8: each returns an
// *Error (bad_field) for input that breaks its rule.

// Document id and kind rules (spec §8.1), the same as the provider's store.
const (
	MaxDocID = 128
	MaxKind  = 32
)

// CheckDocID accepts 1 to 128 characters from A–Z a–z 0–9 and "-_.~:",
// which travel in a URL path segment without escaping.
func CheckDocID(id string) error {
	if id == "" || len(id) > MaxDocID {
		return ErrBadField.With("document id must be 1 to %d characters", MaxDocID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~:", c) >= 0) {
			return ErrBadField.With("document id: byte 0x%02x at %d is not allowed", c, i)
		}
	}
	return nil
}

// CheckKind accepts 1 to 32 characters from a–z 0–9 and "-".
func CheckKind(k string) error {
	if k == "" || len(k) > MaxKind {
		return ErrBadField.With("Umbra-Kind must be 1 to %d characters", MaxKind)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return ErrBadField.With("Umbra-Kind: byte 0x%02x at %d is not allowed", c, i)
		}
	}
	return nil
}

// parseUint parses 1 to 19 ASCII digits (no sign, no space) as an int64.
func parseUint(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// query parses a raw query string in which only the names in allowed may
// appear, each at most once.
func query(raw string, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, ErrBadField.With("query: %v", err)
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			return nil, ErrBadField.With("unknown query parameter %q", clip(k, 40))
		}
		if len(v) > 1 {
			return nil, ErrBadField.With("query parameter %q appears %d times", k, len(v))
		}
	}
	return q, nil
}

// changesQuery is a parsed GET /changes query (spec §8.2).
type changesQuery struct {
	since int64
	limit int
	wait  time.Duration
}

func parseChangesQuery(raw string, maxWait time.Duration) (changesQuery, error) {
	cq := changesQuery{limit: DefaultPage}
	q, err := query(raw, "since", "limit", "wait")
	if err != nil {
		return cq, err
	}
	var ok bool
	if s := q.Get("since"); q.Has("since") {
		if cq.since, ok = parseUint(s); !ok {
			return cq, ErrBadField.With("since must be a non-negative decimal integer")
		}
	}
	if s := q.Get("limit"); q.Has("limit") {
		n, ok := parseUint(s)
		if !ok || n == 0 {
			return cq, ErrBadField.With("limit must be a positive decimal integer")
		}
		cq.limit = int(min(n, MaxPage))
	}
	if s := q.Get("wait"); q.Has("wait") {
		n, ok := parseUint(strings.TrimSuffix(s, "s"))
		if !ok {
			return cq, ErrBadField.With(`wait must be whole seconds, such as "30" or "30s"`)
		}
		cq.wait = min(time.Duration(min(n, 1<<30))*time.Second, maxWait)
	}
	return cq, nil
}

// parseIfMatch reads the expected revision from If-Match (spec §8.4):
// a decimal revision, bare or as a strong entity tag ("3" or 3). A
// missing header is ErrPreconditionRequired.
func parseIfMatch(v string, present bool) (int64, error) {
	if !present {
		return 0, ErrPreconditionRequired
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	n, ok := parseUint(v)
	if !ok {
		return 0, ErrBadField.With("If-Match must be a revision number, such as \"3\"")
	}
	return n, nil
}

// byteRange is the answer to a Range header for a document of size bytes
// (spec §8.3; RFC 9110 §14): full (ignore the header), a range, or
// unsatisfiable.
type byteRange struct {
	partial       bool
	unsatisfiable bool
	first, last   int64 // inclusive, when partial
}

// parseRange accepts exactly one range of unit "bytes": "a-b", "a-" or
// "-n". Any other form (another unit, several ranges, a > b, junk) is
// ignored, as RFC 9110 §14.2 allows; a range that starts at or beyond the
// end, or a zero-length suffix, is unsatisfiable.
func parseRange(h string, size int64) byteRange {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return byteRange{}
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return byteRange{}
	}
	if a == "" { // suffix: the last n bytes
		n, ok := parseUint(b)
		if !ok {
			return byteRange{}
		}
		if n == 0 || size == 0 {
			return byteRange{unsatisfiable: true}
		}
		return byteRange{partial: true, first: max(size-n, 0), last: size - 1}
	}
	first, ok := parseUint(a)
	if !ok {
		return byteRange{}
	}
	last := int64(-1)
	if b != "" {
		if last, ok = parseUint(b); !ok || last < first {
			return byteRange{}
		}
	}
	if first >= size {
		return byteRange{unsatisfiable: true}
	}
	if last < 0 || last >= size {
		last = size - 1
	}
	return byteRange{partial: true, first: first, last: last}
}
