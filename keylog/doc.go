// Package keylog is a provider's transparency log of the signets it signs
// (DESIGN §4, docs/spec/keylog.md): an append-only Merkle tree
// (golang.org/x/mod/sumdb/tlog, RFC 6962 hashing) whose size and root
// hash the provider signs as a checkpoint (golang.org/x/mod/sumdb/note)
// with a log key of its own. A signet travels with a proof that it is in
// the tree a checkpoint names; a bridge keeps the newest checkpoint it saw
// of each log and asks for a proof that every later one extends it, so a
// provider cannot show one user a key it hides from another, or rewrite
// what it showed, without being caught.
//
// The package knows no database: a Log appends through a Storage, which
// must make each append durable and atomic (the provider's store does;
// MemStorage serves tests). It knows nothing of signets either: records
// are opaque bytes.
//
// Concurrency: a Log is safe for concurrent use; appends are serialised
// within the process, and Logs of several processes over one Storage
// (provider nodes sharing a database) take turns through the Storage's
// ErrConflict, computing their record's hashes again. The
// verification functions keep no state.
package keylog
