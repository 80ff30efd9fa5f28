// Package mailstore is the bridge's local mail store: every message,
// envelope, folder, flag, outbox entry and piece of sync bookkeeping of one
// user, kept in one SQLite database (github.com/ncruces/go-sqlite3)
// encrypted at rest by the Adiantum VFS (DESIGN.md §7), with an FTS5
// trigram index for IMAP SEARCH. The IMAP server (bridge/imapd) reads and
// changes mail through it; the sync engine (bridge) applies the
// provider's documents to it and pushes what is pending.
//
// Concurrency: a Store is safe for use by many goroutines. Writes are
// serialised by one mutex on one connection, each in one transaction;
// reads run on a pool of read connections beside the writer (WAL), each
// in a transaction of its own, so every method sees one consistent
// snapshot. A connection of its own copies the WAL into the database
// beside the writer (checkpoint.go), and the search indexes are merged
// on the writer's connection when no write has come for a while, a
// write interrupting the merge (merge.go). Subscribe callbacks run
// synchronously after each commit, under the write mutex, in commit
// order: they may read from the Store but must not write to it.
package mailstore
