package autocrypt

import (
	"time"

	"umbra/pgp"
)

// Peer is what we know of one correspondent's Autocrypt state (§2.3). The
// zero Peer is a correspondent never seen.
type Peer struct {
	LastSeen           time.Time // most recent effective date of any message from the peer
	AutocryptTimestamp time.Time // effective date of the message that gave Key
	Key                *pgp.PublicKey
	PreferEncrypt      PreferEncrypt
}

// Update returns p updated by a message from the peer (§2.3). h is the
// message's Autocrypt header from Find, nil if it had no valid one; date is
// its Date header (zero if missing or unparsable) and received the time we
// got it. The effective date is date, or received if date is missing or in
// the future.
func Update(p Peer, h *Header, date, received time.Time) Peer {
	eff := date
	if eff.IsZero() || eff.After(received) {
		eff = received
	}
	if eff.Before(p.AutocryptTimestamp) {
		return p // older than what we have: no change at all
	}
	if eff.After(p.LastSeen) {
		p.LastSeen = eff
	}
	if h == nil {
		return p
	}
	p.AutocryptTimestamp = eff
	p.Key = h.Key
	p.PreferEncrypt = h.PreferEncrypt
	return p
}
