package autocrypt

import (
	"fmt"
	"time"
)

// Recommendation is the Autocrypt UI recommendation for a new message (§2.4).
type Recommendation int

const (
	Disable    Recommendation = iota // cannot encrypt: do not offer it
	Discourage                       // can encrypt, but the key may be stale: offer, default off, warn
	Available                        // can encrypt: offer, default off
	Encrypt                          // encrypt by default
)

func (r Recommendation) String() string {
	switch r {
	case Disable:
		return "disable"
	case Discourage:
		return "discourage"
	case Available:
		return "available"
	case Encrypt:
		return "encrypt"
	}
	return fmt.Sprintf("Recommendation(%d)", int(r))
}

// staleAfter is how much older than the last message the key's message may
// be before the key counts as stale (§2.4.1).
const staleAfter = 35 * 24 * time.Hour

// Recommend is the recommendation for a message to peers (one state per
// recipient) from a sender whose own prefer-encrypt setting is self, at time
// now; replyToEncrypted says the message answers an encrypted one (§2.4.2).
// No recipients gives Disable.
func Recommend(self PreferEncrypt, peers []Peer, replyToEncrypted bool, now time.Time) Recommendation {
	if len(peers) == 0 {
		return Disable
	}
	all := Encrypt
	discourage := false
	for _, p := range peers {
		switch r := recommendOne(self, p, replyToEncrypted, now); r {
		case Disable:
			return Disable
		case Discourage:
			discourage = true
			all = Available
		case Available:
			all = Available
		}
	}
	if discourage {
		return Discourage
	}
	return all
}

// recommendOne is §2.4.1 (preliminary) then §2.4.2 (final) for one peer.
func recommendOne(self PreferEncrypt, p Peer, replyToEncrypted bool, now time.Time) Recommendation {
	if p.Key == nil || !p.Key.CanEncrypt(now) {
		return Disable
	}
	pre := Available
	if p.AutocryptTimestamp.Add(staleAfter).Before(p.LastSeen) {
		pre = Discourage
	}
	if replyToEncrypted || (pre == Available && self == Mutual && p.PreferEncrypt == Mutual) {
		return Encrypt
	}
	return pre
}
