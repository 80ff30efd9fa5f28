// Package postgres is the implementation of the provider's store
// (umbra/provider/store; DESIGN §7) for operators who outgrow one machine:
// several `umbra server` nodes of one domain share one PostgreSQL
// database, through github.com/jackc/pgx/v5 and its connection pool.
//
// Open applies the schema's versioned migrations (schema.go) before it
// returns; `umbra server migrate` applies them alone.
//
// Durability: every write is one transaction, and returns only once
// PostgreSQL has committed it. With synchronous_commit on (PostgreSQL's
// default; keep it so) that means flushed to the server's WAL, so a 250
// given after Deliver is never lost by a crash of the node or of the
// database. PostgreSQL shares WAL flushes between concurrent commits, as
// the SQLite store's writer does. A write whose context ends before it
// has started is not performed; once started it runs to its end (bounded
// by writeTimeout), so the caller learns its outcome.
//
// Concurrency: a *Store is safe for concurrent use by many goroutines and
// by several processes on one database. Transactions run at READ
// COMMITTED; the rules the store promises rest on row locks taken in one
// order — account, then device, then session — so that they hold across
// processes exactly as the SQLite store's single writer makes them hold
// within one:
//
//   - every change to an account's documents first locks the account's
//     row (it takes the next number of its change sequence), so an
//     account's changes commit one at a time in sequence order, with no
//     gap, and a reader never sees number n+1 before n;
//   - Deliver inserts the delivery record first (ON CONFLICT DO NOTHING
//     waits for a concurrent delivery of the same message, on any node,
//     and then inserts nothing), and takes a sequence number and stores
//     the document only if the record is its own: one round trip, one
//     document per message (a message over store.MaxDeliverBuffer takes
//     the same steps in a transaction of its own and streams its data
//     with COPY);
//   - Claim selects due queue entries with FOR UPDATE SKIP LOCKED: two
//     nodes claiming at once get disjoint entries, and an entry whose
//     lease has expired (its node died) is claimable again;
//   - a challenge is taken, and a refresh token spent, by one DELETE or
//     one locked row, so of concurrent callers exactly one wins;
//   - session creation and refresh lock the account and device rows that
//     Disable and Revoke update, so a revocation is effective when it
//     returns;
//   - the transparency log is appended under a transaction-scoped
//     advisory lock (pg_advisory_xact_lock): one sequencer at a time,
//     whichever node it runs on, and a dead node's lock ends with its
//     connection.
//
// A transaction that PostgreSQL aborts for a deadlock or a serialization
// failure is run again, up to maxAttempts times.
//
// Change notification: after a Deliver, Put or Delete commits, the
// account's address is NOTIFYed on NotifyChannel (notify.go: by one
// goroutine, outside the writing transaction, since PostgreSQL serialises
// the commits of notifying transactions). WatchChanges LISTENs on it, so a
// DMAP long-poll on one node wakes at once for mail delivered on another
// (store.ChangeFeed).
package postgres
