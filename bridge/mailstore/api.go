package mailstore

// This file is the contract of the package: the types and the methods
// other packages (bridge/imapd, bridge) use. Implementations live in the
// other files.

import (
	"errors"
	"time"
)

var (
	// ErrNotFound: no such mailbox, message, document or outbox entry.
	ErrNotFound = errors.New("mailstore: not found")
	// ErrExists: a mailbox of that name exists already.
	ErrExists = errors.New("mailstore: already exists")
	// ErrInvalid: a name, flag or argument breaks a rule (the error text says which).
	ErrInvalid = errors.New("mailstore: invalid")
	// ErrModified: a conditional change found the message changed since
	// the mod-sequence it was given (FlagChange.UnchangedSince).
	ErrModified = errors.New("mailstore: modified since")
)

// Origin says where a mutation comes from, and so whether the sync engine
// must push it to the provider.
type Origin int

const (
	// Local: an IMAP client, SMTP submission or the sync engine acting for
	// this device. The change is recorded as pending (Pending) until the
	// sync engine has pushed it (Pushed).
	Local Origin = iota
	// Remote: applied from the provider's documents; not pending. The
	// state it sets becomes the merge base (Message.Synced*).
	Remote
)

// Special-use attributes (RFC 6154) of the mailboxes every store has.
const (
	Inbox   = "INBOX"
	Sent    = `\Sent`
	Drafts  = `\Drafts`
	Trash   = `\Trash`
	Junk    = `\Junk`
	Archive = `\Archive`
)

// Mailbox is one folder. Name uses "/" as the hierarchy delimiter; the
// inbox is always "INBOX". A new store has INBOX, Sent, Drafts, Trash, Junk
// and Archive (named so, with their special-use attributes).
type Mailbox struct {
	ID          int64
	Name        string
	SpecialUse  string // "" or one of the special-use constants
	UIDValidity uint32 // fixed for the life of the mailbox; a new mailbox of an old name gets a new one
	UIDNext     uint32
	Subscribed  bool   // its name is subscribed (Subscriptions)
	Messages    uint32 // count of messages in it
	Unseen      uint32 // count without \Seen
	Size        int64  // sum of message sizes
	// HighestModSeq is the highest mod-sequence of a change in the
	// mailbox, a message leaving it included (RFC 7162 CONDSTORE).
	HighestModSeq uint64
}

// Message is one message in one mailbox, without its bytes.
type Message struct {
	ID           int64  // local row id, never reused
	Key          string // sync identity, the same on every device of the account
	MailboxID    int64
	Mailbox      string   // the mailbox's name
	UID          uint32   // never changes while the message stays in the mailbox
	Flags        []string // sorted, canonical case for system flags (\Seen, \Answered, \Flagged, \Deleted, \Draft); never \Recent
	InternalDate time.Time
	Size         int64  // bytes of MIME
	ContentID    int64  // the stored content (several messages may share one, after COPY)
	ModSeq       uint64 // mod-sequence of its last change (RFC 7162)
	// SyncedFlags and SyncedMailbox are the state last agreed with the
	// provider (the base of a three-way merge); nil/"" if never synced.
	SyncedFlags   []string
	SyncedMailbox string
}

// NewMessage is a message to add.
type NewMessage struct {
	Key          string // required; Add is idempotent on it
	Mailbox      string // mailbox name; must exist
	Flags        []string
	InternalDate time.Time // zero: now
	MIME         []byte    // the RFC 5322 message, as served over IMAP
}

// EventKind says what an Event reports.
type EventKind int

const (
	MessageAdded     EventKind = iota + 1 // UID, Flags set
	MessageExpunged                       // UID set (moved away, deleted or mailbox emptied)
	FlagsChanged                          // UID, Flags set
	MailboxesChanged                      // a mailbox was created, deleted, renamed or (un)subscribed; MailboxID 0 for a name without a mailbox
)

// Event is one committed change, as Subscribe reports it.
type Event struct {
	Kind      EventKind
	MailboxID int64
	UID       uint32
	Flags     []string
	ModSeq    uint64 // the change's mod-sequence (MessageAdded, FlagsChanged: the message's new one)
	Origin    Origin
	Actor     any // what the writer's context carried (WithActor), or nil
	// Key and ContentID: MessageExpunged by Expunge or DeleteMailbox
	// (not by Move), what the message was, which is gone once committed.
	Key       string
	ContentID int64
}

// Expunged is what Vanished reports of a mailbox.
type Expunged struct {
	UIDs []uint32 // in increasing order
	// Exact is false when the question went back further than the store
	// remembers: more UIDs below UIDNext may have gone, and the caller
	// must take every UID it cannot find in the mailbox as possibly
	// expunged.
	Exact   bool
	UIDNext uint32 // the mailbox's, read with UIDs
}

// Field selects what Search looks in.
type Field int

const (
	FieldText    Field = iota // headers and body
	FieldSubject              // Subject
	FieldFrom                 // From
	FieldTo                   // To and Cc
	FieldBody                 // body text only
)

// Pending is a message whose local changes are not yet pushed.
type Pending struct {
	Key       string
	Mailbox   string // current mailbox name ("" if Expunged)
	Flags     []string
	Expunged  bool // deleted locally: a tombstone kept until pushed
	ContentID int64
	// Change is the message's local change counter; Pushed(key, Change)
	// clears the pending state only if no later change happened.
	Change int64
}

// MailboxPending is a mailbox created, renamed or deleted locally and not yet pushed.
type MailboxPending struct {
	Name    string
	Deleted bool
	Change  int64
}

// Doc is the sync engine's record of one provider document.
type Doc struct {
	ID       string
	Kind     string
	Revision int64
	Key      string // the message key it belongs to, or ""
}

// Outgoing is a message waiting in the outbox to be sealed and sent.
type Outgoing struct {
	ID         int64
	From       string
	Recipients []string // envelope recipients still to send to
	MIME       []byte
	Queued     time.Time
	Attempts   int
	LastError  string
	NextTry    time.Time
}

// Method set (implemented in the other files of the package):
//
//	Open(path string, key []byte) (*Store, error)
//	(*Store) Close() error
//	(*Store) Subscribe(fn func(Event)) (cancel func())
//	WithActor(ctx, actor) context.Context  -- tags the events of writes made with ctx
//
//	(*Store) Mailboxes(ctx) ([]Mailbox, error)
//	(*Store) Mailbox(ctx, name) (Mailbox, error)
//	(*Store) CreateMailbox(ctx, name, origin) (Mailbox, error)
//	(*Store) DeleteMailbox(ctx, name, origin) error
//	(*Store) RenameMailbox(ctx, oldName, newName, origin) error
//	(*Store) SetSubscribed(ctx, name, on) error
//	(*Store) Subscriptions(ctx) ([]string, error)
//
//	(*Store) Add(ctx, NewMessage, origin) (Message, bool, error)
//	(*Store) List(ctx, mailboxID) ([]Message, error)
//	(*Store) Get(ctx, id) (Message, error)
//	(*Store) ByKey(ctx, key) (Message, error)
//	(*Store) Content(ctx, contentID) ([]byte, error)
//	(*Store) Header(ctx, contentID) ([]byte, error)
//	(*Store) SetFlags(ctx, id, flags, origin) (Message, error)
//	(*Store) ChangeFlags(ctx, id, FlagChange, origin) (Message, error)
//	(*Store) Move(ctx, id, dest, origin) (Message, error)
//	(*Store) Copy(ctx, id, dest, newKey, origin) (Message, error)
//	(*Store) Expunge(ctx, id, origin) error
//	(*Store) Search(ctx, mailboxID, field, text) ([]uint32, error)
//
//	(*Store) Cursor(ctx) (int64, error)
//	(*Store) SetCursor(ctx, since) error
//	(*Store) Revisions(ctx, ids) (map[string]int64, error)
//	(*Store) PutDoc(ctx, Doc) error
//	(*Store) DocsOfKey(ctx, key) ([]Doc, error)
//	(*Store) Pending(ctx, limit) ([]Pending, error)
//	(*Store) Pushed(ctx, key, change) error
//	(*Store) MailboxesPending(ctx) ([]MailboxPending, error)
//	(*Store) MailboxPushed(ctx, name, change) error
//
//	(*Store) Enqueue(ctx, Outgoing) (int64, error)
//	(*Store) Outbox(ctx) ([]Outgoing, error)
//	(*Store) OutboxSent(ctx, id, rcpt) error
//	(*Store) OutboxFailed(ctx, id, lastError, nextTry) error
//	(*Store) OutboxDrop(ctx, id) error
//
//	(*Store) Get/SetState(ctx, name) ([]byte, error) / (ctx, name, value) error  -- small key/value (status, pins)
//
//	(*Batch) AddUnique(NewMessage, origin, dup) error  -- Add unless the mailbox holds the same bytes (umbra import)
//	(*Batch) SetState(name, value func() []byte)       -- state committed with the batch (import progress)
//	(*Store) EachMessage(ctx, mailboxID, fn) error     -- a mailbox's messages with their MIME, a page at a time (export)
//	(*Store) NewWatch() (*Watch, error)                -- notice writes of another process...
//	(*Store) Check(*Watch) (int, bool, error)          -- ...and report them to the subscribers
