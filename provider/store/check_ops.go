package store

import (
	"io"
	"time"

	"umbra/signet"
)

// The argument checks of whole operations, the same for every
// implementation: each runs before any database work.

// CheckSignetAppend checks Signets.Append's arguments: fp must be the
// fingerprint of encoded.
func CheckSignetAppend(address string, fp signet.Fingerprint, encoded []byte) error {
	if err := CheckAddress(address); err != nil {
		return err
	}
	if len(encoded) == 0 {
		return invalid("empty signet")
	}
	if err := CheckSize("signet", encoded, MaxSignetSize); err != nil {
		return err
	}
	if !signet.FingerprintOf(encoded).Equal(fp) {
		return invalid("fingerprint %s is not that of the signet", fp)
	}
	return nil
}

// CheckPut checks Mailbox.Put's arguments and returns the reader of its
// data: exactly size bytes, 0 to MaxDataSize.
func CheckPut(address, docID, kind string, expectedRevision int64, data io.Reader, size int64) (*MessageReader, error) {
	if err := CheckDocRef(address, docID, expectedRevision); err != nil {
		return nil, err
	}
	if err := CheckKind(kind); err != nil {
		return nil, err
	}
	return NewDocumentReader(data, size)
}

// CheckDocRef checks the document Put and Delete name and the revision
// they expect.
func CheckDocRef(address, docID string, expectedRevision int64) error {
	if err := CheckAddress(address); err != nil {
		return err
	}
	if err := CheckDocID(docID); err != nil {
		return err
	}
	if expectedRevision < 0 {
		return invalid("expected revision %d is negative", expectedRevision)
	}
	return nil
}

// CheckOutbound checks Queue.Enqueue's message and returns when it is
// first due (m.NotBefore, or now if that is zero) and the reader of
// m.Message: exactly m.Size bytes, 1 to MaxDataSize.
func CheckOutbound(m Outbound, now time.Time) (next time.Time, msg *MessageReader, err error) {
	if err := CheckDomain(m.Domain); err != nil {
		return next, nil, err
	}
	if msg, err = NewMessageReader(m.Message, m.Size); err != nil {
		return next, nil, err
	}
	if err := CheckSize("bounce-to", m.BounceTo, MaxBounceToSize); err != nil {
		return next, nil, err
	}
	next = m.NotBefore
	if next.IsZero() {
		next = now
	}
	return next, msg, CheckTime("not-before", next)
}

// CheckClaim checks Queue.Claim's arguments and returns the clamped limit
// and the end of the lease.
func CheckClaim(now time.Time, limit int, lease time.Duration, owner string) (int, time.Time, error) {
	if err := CheckTime("now", now); err != nil {
		return 0, time.Time{}, err
	}
	limit, err := Limit(limit, MaxPage)
	if err != nil {
		return 0, time.Time{}, err
	}
	if lease <= 0 {
		return 0, time.Time{}, invalid("lease %v, must be positive", lease)
	}
	if err := CheckOwner(owner); err != nil {
		return 0, time.Time{}, err
	}
	until := now.Add(lease)
	return limit, until, CheckTime("lease end", until)
}

// CheckRemoteSignet checks an entry of the remote signet cache.
func CheckRemoteSignet(rs RemoteSignet) error {
	if err := CheckDomain(rs.Domain); err != nil {
		return err
	}
	if len(rs.Signet) == 0 {
		return invalid("empty signet")
	}
	if err := CheckSize("signet", rs.Signet, MaxSignetSize); err != nil {
		return err
	}
	if err := CheckTime("fetched", rs.Fetched); err != nil {
		return err
	}
	if err := CheckTime("expires", rs.Expires); err != nil {
		return err
	}
	if !rs.Expires.After(rs.Fetched) {
		return invalid("signet of %s expires (%v) before it was fetched (%v)", rs.Domain, rs.Expires, rs.Fetched)
	}
	return nil
}
