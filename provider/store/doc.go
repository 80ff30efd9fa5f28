// Package store defines what an Umbra provider keeps on disk (DESIGN §7)
// and the rules every storage implementation must follow. The provider
// logic is written against the Store interface only; provider/store/sqlite
// is the embedded default, and provider/store/storetest is the conformance
// suite that every implementation (SQLite now, PostgreSQL later) must pass.
// The full contract, precise enough for another implementation, is
// docs/spec/store.md.
//
// The provider cannot read what it stores about its users: mailbox
// documents, queued messages, key backups and signets are opaque bytes to
// it. The store never interprets them; it only keeps them, orders them and
// enforces the few rules that make delivery and sync safe:
//
//   - Deliver is idempotent on (address, MessageID): a redelivered message
//     never becomes a second document, even after the first was deleted.
//   - Every Put, Delete and Deliver of one account takes the next number of
//     that account's change sequence: strictly increasing, no gaps.
//   - Put and Delete name the revision they expect and fail with a
//     *ConflictError (matching ErrConflict) carrying the current one.
//   - A queue entry is held by at most one live claim; a claim ends when
//     its holder completes or reschedules the entry, or when its lease
//     expires, so a crashed relay never strands mail.
//   - A login challenge is taken once and a refresh token works once, even
//     under concurrent callers: exactly one wins.
//   - A session is found or refreshed only while its device is unrevoked
//     and its account active; a revocation is effective when it returns.
//   - Everything of an account (documents, devices, sessions) is reached
//     only through that account: one never sees another's.
//
// Durability: a write method returns nil only once its effect is durable
// (on disk, or committed to the database server). A write that fails
// changes nothing. A write whose context ends before it has started is not
// performed and returns the context's error; one that has started is
// waited for, so the caller always learns its outcome.
//
// Concurrency: a Store and the views it returns (Accounts, Signets,
// Mailbox, Queue, RemoteSignets, Devices, Challenges, Sessions) are safe
// for concurrent use by many goroutines, and, for implementations that
// say so, by several processes.
// Reads see every write that has returned. Close waits for writes already
// accepted, then makes every method return ErrClosed.
package store
