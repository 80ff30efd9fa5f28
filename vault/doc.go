// Package vault keeps a user's private keys in one password-locked file and
// derives the account's recovery key from a BIP-39 recovery phrase
// (docs/spec/vault.md).
//
// A vault is the bytes "UMBRAVLT", a version, the Argon2id parameters and
// salt, a nonce and the AES-256-GCM sealing of the keys in a canonical
// type-length-value layout. The whole header is the associated data, so a
// changed parameter fails authentication. The AES key comes from HKDF over
// the Argon2id output: nothing is ever keyed by the password itself. A wrong
// password and a damaged file cannot be told apart (that is what an AEAD
// promises), so both are ErrWrongPassword. The byte form (Seal, Unseal) is
// the first-class API, for the DMAP "cautious" key backup; the file form
// (Create, Open, Save, ChangePassword) adds atomic writes with mode 0600.
//
// Header parameters are checked against fixed bounds before Argon2id runs,
// so a hostile file cannot make the client allocate more than 1 GiB or spin
// for long.
//
// Concurrency: every function is safe to call from several goroutines. The
// file functions do not lock: two concurrent writers of the same path both
// leave a complete vault, but the later rename wins, so a caller that updates
// one vault from several places must serialise those updates itself. A Keys
// value is plain data and is not safe for concurrent mutation.
package vault
