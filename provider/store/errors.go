package store

import (
	"errors"
	"fmt"
)

// Errors that callers tell apart with errors.Is. Implementations wrap them
// with context (which operation, which key).
var (
	ErrNotFound  = errors.New("store: not found")
	ErrExists    = errors.New("store: already exists")
	ErrInvalid   = errors.New("store: invalid argument")
	ErrBadCode   = errors.New("store: invitation code does not match")
	ErrState     = errors.New("store: account is not in the required state")
	ErrConflict  = errors.New("store: revision conflict")
	ErrLeaseLost = errors.New("store: queue entry is not claimed by this owner")
	ErrClosed    = errors.New("store: closed")
	ErrBusy      = errors.New("store: busy; try again later")
	// ErrResync is Changes' answer to a caller whose position lies
	// before a collected tombstone: it must read the feed again from 0.
	ErrResync = errors.New("store: changes before this position were collected; read the feed again from 0")
	// ErrChanged is the answer of a reader of Mailbox.Open whose
	// document was replaced or deleted since Open: going on would mix
	// two revisions' bytes; and of a reader of Queue.Open whose entry is
	// gone (with ErrNotFound).
	ErrChanged = errors.New("store: document changed since it was opened")
)

// ConflictError is returned by Put and Delete when the expected revision
// is not the document's current one. It matches ErrConflict.
type ConflictError struct {
	DocID   string
	Current int64 // the current revision; 0 if the document does not exist
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: revision conflict on document %q: current revision is %d", e.DocID, e.Current)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
