// Package sqlite is the embedded, zero-set-up implementation of the
// provider's store (umbra/provider/store; DESIGN §7): one SQLite database in
// WAL mode, in a directory of its own, through
// github.com/ncruces/go-sqlite3 (pure Go, no cgo).
//
// Writes go through one writer goroutine that group-commits them (see
// writer.go and provider/store/docs/spec/store.md §7): concurrent deliveries share
// one fsync, and no write returns before its transaction is committed
// with synchronous=FULL. Reads use a separate pool of read-only connections,
// which WAL lets run concurrently with the writer and with each other.
//
// Concurrency: a *Store is safe for concurrent use. One process should
// own a database directory at a time; a second process would be
// serialised by SQLite's locks, correct but without group commit between
// the two.
package sqlite
