// Package sqlrow is what the SQL implementations of the provider's store
// (provider/store/sqlite, provider/store/postgres) share: their tables
// and columns are the same (docs/spec/store.md §8, §13.1), so are the
// encoding of times and the scanning of rows.
package sqlrow

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"umbra/provider/store"
)

// Scanner is a row: *sql.Row, *sql.Rows, pgx.Row, the SQLite writer's row.
type Scanner interface{ Scan(dest ...any) error }

// Nanos encodes a time as nanoseconds since the Unix epoch; 0 stands for
// the zero time.Time ("none"). store.CheckTime keeps real times in range.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromNanos decodes Nanos.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// QueueColumns are the columns ScanEntry reads, in its order, where size
// is the expression of the message's length: the stores keep the message
// each its own way (PostgreSQL in the queue row, SQLite in a table of its
// own beside a size column).
func QueueColumns(size string) string {
	return `id, message_id, domain, bounce_to, ` + size + `, created, attempts,
	next_attempt, last_error, lease_owner, lease_until`
}

// ScanEntry scans QueueColumns, followed by the message when withMessage.
func ScanEntry(row Scanner, withMessage bool) (store.QueueEntry, error) {
	var e store.QueueEntry
	var mid []byte
	var created, next, until int64
	dest := []any{&e.ID, &mid, &e.Domain, &e.BounceTo, &e.Size, &created, &e.Attempts,
		&next, &e.LastError, &e.LeaseOwner, &until}
	if withMessage {
		dest = append(dest, &e.Message)
	}
	if err := row.Scan(dest...); err != nil {
		return e, err
	}
	if len(mid) != len(e.MessageID) {
		return e, fmt.Errorf("corrupt message id of %d bytes in entry %d", len(mid), e.ID)
	}
	copy(e.MessageID[:], mid)
	e.Created, e.NextAttempt, e.LeaseUntil = FromNanos(created), FromNanos(next), FromNanos(until)
	return e, nil
}

// SignetColumns are the columns ScanSignet reads, in its order.
const SignetColumns = `address, seq, fingerprint, signet, added`

// ScanSignet scans SignetColumns.
func ScanSignet(row Scanner) (store.SignetRecord, error) {
	var r store.SignetRecord
	var fp []byte
	var added int64
	if err := row.Scan(&r.Address, &r.Seq, &fp, &r.Signet, &added); err != nil {
		return r, err
	}
	if len(fp) != len(r.Fingerprint) {
		return r, fmt.Errorf("corrupt fingerprint of %d bytes", len(fp))
	}
	copy(r.Fingerprint[:], fp)
	r.Added = FromNanos(added)
	return r, nil
}

// DeviceColumns are the columns ScanDevice reads, in its order.
const DeviceColumns = `account, id, key, name, created, last_seen`

// ScanDevice scans DeviceColumns.
func ScanDevice(r Scanner) (store.Device, error) {
	var d store.Device
	var key []byte
	var created, seen int64
	if err := r.Scan(&d.Account, &d.ID, &key, &d.Name, &created, &seen); err != nil {
		return d, err
	}
	d.Key = ed25519.PublicKey(key)
	d.Created, d.LastSeen = FromNanos(created), FromNanos(seen)
	return d, nil
}

// LiveSession selects a session only while its device is active and its
// account is active (docs/spec/store.md §11.1); the caller appends the
// rest of the WHERE clause. ScanSession reads its columns.
const LiveSession = `SELECT s.account, s.device_id, s.issued, s.access_hash, s.access_expires, s.refresh_hash, s.refresh_expires
	FROM sessions s
	JOIN devices d ON d.account = s.account AND d.id = s.device_id
	JOIN accounts a ON a.address = s.account
	WHERE d.revoked IS NULL AND a.state = 'active' AND `

// ScanSession scans the columns of LiveSession.
func ScanSession(r Scanner) (store.Session, error) {
	var s store.Session
	var access, refresh []byte
	var issued, accessExp, refreshExp int64
	if err := r.Scan(&s.Account, &s.DeviceID, &issued, &access, &accessExp, &refresh, &refreshExp); err != nil {
		return s, err
	}
	if len(access) != 32 || len(refresh) != 32 {
		return s, fmt.Errorf("corrupt session of %s: token hashes of %d and %d bytes", s.Account, len(access), len(refresh))
	}
	s.AccessHash, s.RefreshHash = [32]byte(access), [32]byte(refresh)
	s.Issued, s.AccessExpires, s.RefreshExpires = FromNanos(issued), FromNanos(accessExp), FromNanos(refreshExp)
	return s, nil
}
