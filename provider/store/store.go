package store

import (
	"context"
	"io"
	"time"

	"umbra/signet"
)

// Store is the provider's storage. Each concern is a view; the views share
// one database and one durability guarantee (see the package comment).
type Store interface {
	Accounts() Accounts
	Signets() Signets
	Mailbox() Mailbox
	Queue() Queue
	RemoteSignets() RemoteSignets
	Devices() Devices
	Challenges() Challenges
	Sessions() Sessions
	Keylog() Keylog
	// Checkpoint makes the data deleted so far gone from every file of
	// the store (docs/spec/store.md §7.1): what deletions overwrote in the
	// database is written back and any log of older page images emptied.
	// ErrBusy when that cannot be done now (readers of old snapshots).
	Checkpoint(ctx context.Context) error
	// Close finishes the writes already accepted and releases the
	// database. Afterwards every method returns ErrClosed, except Close,
	// which returns the first call's result.
	Close() error
}

// Accounts holds the provider's accounts (docs/spec/store.md §2). An account is
// created invited, with the SHA-256 of its invitation code; registration
// activates it once; the operator may disable it.
type Accounts interface {
	// AddInvited creates an invited account. ErrExists if the address
	// has an account in any state.
	AddInvited(ctx context.Context, address string, codeHash [32]byte) error
	// Activate turns an invited account active in the given mode if
	// codeHash matches (compared in constant time), and forgets the hash.
	// ErrBadCode if it does not match, ErrState if the account is not
	// invited, ErrNotFound if there is none.
	Activate(ctx context.Context, address string, codeHash [32]byte, mode Mode) error
	// Disable makes an account disabled, whatever its state, and ends its
	// sessions; disabling a disabled account is a no-op.
	Disable(ctx context.Context, address string) error
	// SetKeyBackup stores (or with nil, removes) the opaque key backup of
	// an active cautious-mode account; ErrState for any other account.
	SetKeyBackup(ctx context.Context, address string, blob []byte) error
	Get(ctx context.Context, address string) (Account, error)
	// List returns every account ordered by address, without key backups.
	List(ctx context.Context) ([]Account, error)
}

// Signets holds each account's chain of user signets (docs/spec/store.md §3), as
// DMTP SGNT, HIST and VRFY serve them.
type Signets interface {
	// Append adds a signet to the end of address's chain and returns its
	// sequence number (1 for the first). fp must be the fingerprint of
	// encoded (ErrInvalid otherwise). Appending a fingerprint already in
	// this address's chain returns its number and changes nothing;
	// one in another address's chain is ErrExists.
	Append(ctx context.Context, address string, fp signet.Fingerprint, encoded []byte) (seq int64, err error)
	// Current returns the last signet of address's chain.
	Current(ctx context.Context, address string) (SignetRecord, error)
	ByFingerprint(ctx context.Context, fp signet.Fingerprint) (SignetRecord, error)
	// History returns address's signets from start to stop, both included,
	// oldest first, at most limit of them (clamped to MaxHistory). A zero
	// start means the first signet, a zero stop the current one.
	// ErrNotFound if start or stop is not in this chain, ErrInvalid if
	// start comes after stop.
	History(ctx context.Context, address string, start, stop signet.Fingerprint, limit int) ([]SignetRecord, error)
}

// Mailbox holds each account's documents: the opaque, client-encrypted
// sync feed that DMAP serves (docs/spec/store.md §4).
type Mailbox interface {
	// Deliver stores an arriving message as a new document of kind
	// KindMail and returns its id with created true, recording the
	// delivery as made at at. data yields the message: exactly size
	// bytes (ErrInvalid, and nothing stored, if it yields fewer or more,
	// or if size is out of the range 1 to MaxDataSize). The store reads
	// data while it stores the delivery and holds at most
	// MaxDeliverBuffer bytes of it in memory at once, never the whole
	// message, so a node's memory is bounded per connection, not by the
	// size of the mail it receives. It may read data while it holds the
	// locks of the write, so data should be quick to read (a local
	// spool file, not a network connection). An error from data aborts
	// this delivery alone: nothing of it is stored, no delivery record,
	// no sequence number taken, and the error is returned wrapped. data
	// is not read after Deliver returns.
	//
	// If a message with the same id was delivered to address before and
	// its record is not purged yet, it returns that document's id with
	// created false and stores nothing, even if the document has since
	// been deleted. data need not be read then, and what it yields does
	// not change that answer.
	Deliver(ctx context.Context, address string, id MessageID, data io.Reader, size int64, at time.Time) (docID string, created bool, err error)
	// Put creates (expectedRevision 0) or replaces a document. A deleted
	// document is replaced by naming its tombstone's revision. On a
	// revision mismatch it returns a *ConflictError. data yields the
	// document: exactly size bytes (ErrInvalid, and nothing changed, if
	// it yields fewer or more, or if size is out of the range 0 to
	// MaxDataSize: a document may be empty). It is read as Deliver reads
	// its message: while the store writes the document, at most
	// MaxDeliverBuffer bytes of it in memory at once, possibly while the
	// write's locks are held (so data should be quick to read), and not
	// after Put returns. An error from data aborts this Put alone: the
	// document, its revision and the change sequence are as they were,
	// and the error is returned wrapped. data need not be read when Put
	// fails for another reason (a conflict, no such account).
	Put(ctx context.Context, address, docID, kind string, expectedRevision int64, data io.Reader, size int64) (Change, error)
	// Delete replaces a document by a tombstone (no data, Deleted set),
	// deleted at at, which keeps its place in the change feed until
	// CollectTombstones removes it. ErrNotFound if there is no such
	// document or it is already deleted; *ConflictError on a revision
	// mismatch.
	Delete(ctx context.Context, address, docID string, expectedRevision int64, at time.Time) (Change, error)
	// Changes returns, in sequence order, the documents whose latest
	// change has a sequence number above since, at most limit of them
	// (clamped to MaxPage). Fewer than limit means the feed is exhausted.
	// ErrResync if since is above 0 and below the account's highest
	// collected sequence number: a tombstone the caller has not seen is
	// gone (docs/spec/store.md §4.5).
	Changes(ctx context.Context, address string, since int64, limit int) ([]Change, error)
	// Head returns the sequence number of the account's latest change (0
	// before the first): where the feed ends now.
	Head(ctx context.Context, address string) (int64, error)
	// Get returns a document, or its tombstone.
	Get(ctx context.Context, address, docID string) (Document, error)
	// Open returns a document's latest change (a tombstone's too) and,
	// unless it is deleted, its data as a reader of c.Size bytes that
	// reads the store in pieces on demand, so that serving a large
	// document holds no more of it in memory than a piece: each ReadAt is
	// a short read of its own (no transaction, snapshot, connection or
	// lock is held between calls, so a slow HTTP client holds nothing of
	// the store) and reads at most MaxReadPiece bytes into memory at a
	// time. If the document was replaced or deleted after Open, ReadAt
	// fails with an error wrapping ErrChanged rather than mix two
	// revisions. Reads run under ctx. ReadAt is safe for concurrent use.
	// ErrNotFound if there is no such document.
	Open(ctx context.Context, address, docID string) (Change, io.ReaderAt, error)
	// PurgeDeliveries forgets the deliveries made at or before cutoff
	// (docs/spec/store.md §4.2) and returns how many.
	PurgeDeliveries(ctx context.Context, cutoff time.Time) (int, error)
	// CollectTombstones removes the tombstones deleted at or before
	// cutoff and raises each account's collected sequence number to the
	// highest sequence number it removed (docs/spec/store.md §4.5). It
	// returns how many it removed.
	CollectTombstones(ctx context.Context, cutoff time.Time) (int, error)
}

// Queue is the outbound relay queue (docs/spec/store.md §5). Relays claim due entries
// under a lease; Claim never hands one entry to two live claims.
type Queue interface {
	// Enqueue adds a message and returns its entry id. If an entry with
	// the same MessageID is queued, it returns that id with created false;
	// m.Message need not be read then, and what it yields does not
	// change that answer. Otherwise m.Message is read as Deliver reads
	// its message: exactly m.Size bytes (ErrInvalid, and nothing queued,
	// if it yields fewer or more, or if m.Size is out of the range 1 to
	// MaxDataSize), at most MaxDeliverBuffer bytes of it in memory at
	// once, possibly while the write's locks are held (so it should be
	// quick to read), and not after Enqueue returns. An error from
	// m.Message aborts this Enqueue alone: no entry, and the error is
	// returned wrapped.
	Enqueue(ctx context.Context, m Outbound) (id int64, created bool, err error)
	// Claim leases to owner up to limit entries (clamped to MaxPage) that
	// are due (NextAttempt ≤ now) and not under a live lease (LeaseUntil >
	// now), earliest first, until now+lease, and counts an attempt on
	// each. The entries come without their message bytes (Message nil,
	// Size set): the claimer reads each through Open, so that relaying
	// large messages costs no more memory than a piece of one.
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration, owner string) ([]QueueEntry, error)
	// Open returns the message of entry id as a reader of the entry's
	// Size bytes that reads the store in pieces on demand, as
	// Mailbox.Open's does: each ReadAt is a short read of its own (no
	// transaction, snapshot, connection or lock is held between calls)
	// that reads at most MaxReadPiece bytes into memory at a time, under
	// ctx, and ReadAt is safe for concurrent use. Once the entry is gone
	// (completed, dropped), ReadAt fails with an error wrapping both
	// ErrChanged and ErrNotFound; a queued message never changes while
	// its entry exists. ErrNotFound if there is no such entry.
	Open(ctx context.Context, id int64) (io.ReaderAt, error)
	// Complete removes an entry after its delivery. ErrLeaseLost if owner
	// does not hold the entry's last claim.
	Complete(ctx context.Context, id int64, owner string) error
	// Reschedule releases owner's claim and makes the entry due again at
	// next, recording lastError (truncated to MaxLastError bytes).
	// ErrLeaseLost if owner does not hold the entry's last claim.
	Reschedule(ctx context.Context, id int64, owner string, next time.Time, lastError string) error
	// Retry makes an entry due at now whatever its state, releasing any
	// claim on it (operator action: a holder that then completes gets
	// ErrLeaseLost, and the destination's idempotent delivery absorbs the
	// second send). Attempts and age are kept. ErrNotFound if there is no
	// such entry.
	Retry(ctx context.Context, id int64, now time.Time) error
	// Drop removes an entry whatever its state (operator action, or a
	// bounce after the last attempt).
	Drop(ctx context.Context, id int64) error
	// List returns every entry in id order, without message bytes.
	List(ctx context.Context) ([]QueueEntry, error)
	// Get returns an entry with its message bytes, whole: for operator
	// tools and tests; a relay reads through Open.
	Get(ctx context.Context, id int64) (QueueEntry, error)
}

// RemoteSignets caches organisation signets fetched from other providers
// over DMTP SGNT (docs/spec/store.md §6), one per domain.
type RemoteSignets interface {
	// Put stores r, replacing any entry for r.Domain.
	Put(ctx context.Context, r RemoteSignet) error
	// Get returns the entry for domain, expired or not; the caller
	// decides what expiry means.
	Get(ctx context.Context, domain string) (RemoteSignet, error)
	// Purge removes the entries that expired at or before now and
	// returns how many.
	Purge(ctx context.Context, now time.Time) (int, error)
}

// Keylog holds the domain's transparency log (docs/spec/keylog.md,
// docs/spec/store.md §12): its records and the stored hashes of its tree,
// in package keylog's numbering. It is the keylog.Storage of the
// provider's log.
type Keylog interface {
	// Size returns the number of records.
	Size(ctx context.Context) (int64, error)
	// ReadHashes returns the stored hashes at indexes; ErrNotFound if one
	// is missing.
	ReadHashes(ctx context.Context, indexes []int64) ([][32]byte, error)
	// Append stores record n, which must be the next (the current size,
	// else ErrConflict), with the hashes it adds, at the next stored-hash
	// indexes, atomically and durably.
	Append(ctx context.Context, n int64, record []byte, hashes [][32]byte) error
	// Record returns record n; ErrNotFound if there is none.
	Record(ctx context.Context, n int64) ([]byte, error)
}

// ChangeFeed is implemented by stores that several provider processes
// share (PostgreSQL): it tells each process of the changes the others
// make, so that a DMAP long-poll on one node wakes at once for mail
// delivered on another. A store used by one process needs none: the
// provider tells its own watchers of its own writes.
type ChangeFeed interface {
	// WatchChanges calls changed with the address of every account whose
	// documents change, by any process sharing the store, and with ""
	// when changes may have been missed (the feed's connection was lost
	// and is back): every watcher should then look again. It returns once
	// it is listening, goes on in the background until ctx ends, and the
	// returned function waits for that end. changed must not block.
	WatchChanges(ctx context.Context, changed func(address string)) (wait func(), err error)
}
