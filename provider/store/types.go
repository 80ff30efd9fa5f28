package store

import (
	"encoding/hex"
	"io"
	"time"

	"umbra/signet"
)

// State is an account's place in its life cycle (docs/spec/store.md §2).
type State string

const (
	StateInvited  State = "invited"  // created by the operator, waiting for registration
	StateActive   State = "active"   // registered with its invitation code
	StateDisabled State = "disabled" // switched off by the operator; final
)

// Mode is an account's key-custody mode (DESIGN §4): who holds the user's
// private keys.
type Mode string

const (
	ModeParanoid Mode = "paranoid" // private keys only on the user's devices
	ModeCautious Mode = "cautious" // the provider also keeps a password-encrypted key backup
)

// Account is one account. Mode is empty until the account is activated.
type Account struct {
	Address   string
	State     State
	Mode      Mode
	Created   time.Time
	KeyBackup []byte // opaque; cautious mode only; nil when absent or listed
}

// SignetRecord is one link of an account's signet chain.
type SignetRecord struct {
	Address     string
	Seq         int64 // 1 for the first signet of the chain
	Fingerprint signet.Fingerprint
	Signet      []byte // the complete encoded user signet
	Added       time.Time
}

// MessageID is the key that makes delivery and enqueueing idempotent. The
// store treats it as opaque; the provider derives it from the message
// (docs/spec/store.md §4.2).
type MessageID [32]byte

// String is the lowercase hex form.
func (id MessageID) String() string { return hex.EncodeToString(id[:]) }

// KindMail is the kind of the documents Deliver creates.
const KindMail = "mail"

// Change describes a document's latest change, as the change feed lists
// it.
type Change struct {
	DocID    string
	Kind     string
	Revision int64 // 1 when created, +1 on every Put or Delete
	Seq      int64 // the account's change sequence number of this change
	Deleted  bool
	Size     int64 // length of the document's data; 0 for a tombstone
}

// Document is a document with its data (nil for a tombstone).
type Document struct {
	Change
	Data []byte
}

// Outbound is a message to enqueue for relaying to another domain.
type Outbound struct {
	MessageID MessageID
	Domain    string    // destination domain (canonical, signet.CheckDomain)
	Message   io.Reader // the encoded message, exactly as it is to be sent: Size bytes, read as Queue.Enqueue says
	Size      int64     // the exact length of Message, 1 to MaxDataSize
	BounceTo  []byte    // opaque to the store; the provider's note of whom to tell on failure
	NotBefore time.Time // earliest first attempt; zero means now
}

// QueueEntry is a queued message and its delivery state.
type QueueEntry struct {
	ID        int64
	MessageID MessageID
	Domain    string
	// Message is set by Get only: List and Claim leave it nil, and a
	// relay reads a claimed entry's message through Queue.Open, a piece
	// at a time, rather than hold it whole.
	Message     []byte
	BounceTo    []byte
	Size        int64 // length of the message, in every entry
	Created     time.Time
	Attempts    int       // claims so far
	NextAttempt time.Time // due from then
	LastError   string
	LeaseOwner  string    // the holder of the last claim; empty if none
	LeaseUntil  time.Time // when that claim expires; zero if none
}

// RemoteSignet is a cached organisation signet of another domain.
type RemoteSignet struct {
	Domain  string
	Signet  []byte
	Fetched time.Time
	Expires time.Time
}
