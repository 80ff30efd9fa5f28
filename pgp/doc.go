// Package pgp is Umbra's OpenPGP for mail with the legacy world (issue 13):
// the bridge uses it to send PGP/MIME (RFC 3156) to correspondents outside
// Umbra who have an OpenPGP key, and to open the PGP/MIME, inline and
// clearsigned mail they send back. All cryptography is done by
// github.com/ProtonMail/go-crypto (RFC 9580 / RFC 4880); this package only
// chooses parameters and handles the MIME around it.
//
// Keys are version 4 (RFC 4880 §5.5.2) with an Ed25519 primary key for
// signing and certification and an X25519 (ECDH over Curve25519, RFC 6637)
// subkey for encryption, in the "legacy" algorithm encodings GnuPG 2.2 reads.
// Version 6 keys and the draft ML-KEM-768+X25519 post-quantum encryption
// that the library offers are deliberately not used: GnuPG on Debian 12
// (2.2) cannot read either, so mail encrypted to such keys could not be
// opened by most recipients. Messages use SEIPD version 1 (RFC 9580 §5.13.1)
// for the same reason.
//
// Outgoing messages carry header protection (RFC 9788): the original header
// fields travel inside the encrypted part, and only what delivery needs
// stays outside, with the Subject replaced by "[...]".
//
// Concurrency: Key and PublicKey are immutable once made and may be used by
// any number of goroutines at once. The functions keep no state.
package pgp
