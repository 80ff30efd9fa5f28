// Package autocrypt implements Autocrypt Level 1
// (https://autocrypt.org/level1.html) for Umbra's bridge when it mails the
// legacy world: the Autocrypt header field that carries a sender's OpenPGP
// key in every message (§2.1), the per-correspondent peer state it updates
// (§2.3), and the recommendation whether to encrypt a new message (§2.4).
// Gossip (§2.5 to §2.7) and the Autocrypt Setup Message (§4.4) are not
// implemented.
//
// An Autocrypt header is never trusted: a malformed header or key is an
// error for the caller to log, and the header is then ignored, exactly as if
// it were absent.
//
// Concurrency: the functions are pure; Header and Peer are plain values the
// caller owns and must not share while it mutates them.
package autocrypt
