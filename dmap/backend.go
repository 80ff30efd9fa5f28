package dmap

import (
	"context"
	"crypto/ed25519"
	"io"
	"time"

	"umbra/signet"
	"umbra/vault"
)

// Backend is what the provider plugs into Handler: everything the
// protocol needs from accounts, devices, sessions, documents and signets,
// and nothing about how they are stored. The handler has validated every
// argument against the rules of docs/spec/dmap.md before it calls a
// method, and it takes the account of every authenticated call from the
// session alone (spec §2.3), never from a parameter.
//
// Errors choose the answer (spec §3): return (or wrap) one of the
// sentinels (ErrNotFound, ErrInvite, ErrForbidden, …) or Conflict(n);
// any other error is logged and answered 500 "internal".
//
// Methods are called concurrently from many requests.
type Backend interface {
	Accounts
	Sessions
	Documents
	Tunnels
}

// Accounts covers registration, devices, signets, key backups and sending.
type Accounts interface {
	// Register completes an invited account (spec §5.1): it checks the
	// invitation code (wrong, used or unknown: ErrInvite), issues the
	// signet through the provider's one issuance function, activates the
	// account in r.Mode, and stores r.Device and, in cautious mode,
	// r.Backup. It returns the certified signet's encoding.
	Register(ctx context.Context, r Registration) ([]byte, error)
	// Rotate certifies req, which must succeed account's current signet
	// (ErrBadSignet otherwise), appends it to the chain and returns it.
	Rotate(ctx context.Context, account string, req *signet.User) ([]byte, error)
	// Signet returns an encoded signet (spec §9): for an address its
	// current user signet, for a domain its organisation signet, or with a
	// non-zero fp the one with that fingerprint; other domains' through
	// DMTP SGNT, cached. ErrNotFound if there is none, ErrUnavailable if
	// another domain could not be asked.
	Signet(ctx context.Context, name string, fp signet.Fingerprint) ([]byte, error)
	// History returns address's user signets from start to stop, both
	// included, oldest first (zero start: the first; zero stop: the
	// current), through DMTP HIST for other domains.
	History(ctx context.Context, address string, start, stop signet.Fingerprint) ([][]byte, error)
	// Log answers a query of this domain's transparency log
	// (docs/spec/keylog.md §8): ErrBadField for a malformed query,
	// ErrNotFound for a record or tree size the log does not have.
	Log(ctx context.Context, query string) ([]byte, error)

	// Device returns address's active device with public key key;
	// ErrNotFound if the account is not active or has no such device
	// (never revealing which).
	Device(ctx context.Context, address string, key ed25519.PublicKey) (Device, error)
	// AddDevice enrols another device for an active account (spec §5.2);
	// ErrExists if the key already is one of its devices.
	AddDevice(ctx context.Context, address string, d Device) error
	// Devices lists account's active devices.
	Devices(ctx context.Context, account string) ([]Device, error)
	// RenameDevice sets the name of one of account's devices; ErrNotFound
	// if account has no active device with that id.
	RenameDevice(ctx context.Context, account, id, name string) error
	// RevokeDevice revokes one of account's devices: from its return on,
	// Authenticate and Refresh MUST fail for every session of that device
	// (spec §5.5). ErrNotFound as for RenameDevice.
	RevokeDevice(ctx context.Context, account, id string) error

	// KeyBackup returns the key backup of an active cautious account;
	// ErrNotFound for any other address (unknown, invited, paranoid,
	// disabled), without saying which.
	KeyBackup(ctx context.Context, address string) (KeyBackup, error)
	// SetKeyBackup replaces account's key backup; ErrWrongMode if the
	// account is not in cautious mode.
	SetKeyBackup(ctx context.Context, account string, kb KeyBackup) error

	// Send hands one sealed D/MIME message from account to the provider
	// (spec §10): ErrBadMessage, ErrNotAuthor or ErrNoDarkMail when it is
	// refused. It returns once the message is durably delivered or queued.
	// msg is the request body, waiting in the spool: msg.Size() bytes,
	// read as often as needed (each pass from its own
	// io.NewSectionReader) until Send returns.
	Send(ctx context.Context, account string, msg *io.SectionReader) (Sent, error)
	// SendLegacy hands one plain RFC 5322 message from account for rcpt,
	// outside Umbra, to the legacy relay (spec §10.2): ErrDarkMail when
	// rcpt's domain is an Umbra domain, ErrBadMessage when the message is
	// not account's. It returns once the message is durably queued. msg
	// as for Send.
	SendLegacy(ctx context.Context, account, rcpt string, msg *io.SectionReader) (Sent, error)
}

// Sessions holds login challenges and token sessions. Tokens reach it only
// as SHA-256 hashes (spec §4.3), so a copy of its storage cannot be
// replayed as a token.
type Sessions interface {
	// PutChallenge stores a fresh challenge until c.Expires.
	PutChallenge(ctx context.Context, c Challenge) error
	// TakeChallenge removes and returns the challenge with this value, so
	// that each is used at most once even by concurrent requests;
	// ErrNotFound if there is none (never issued or already taken). It
	// may return expired ones: the handler checks Expires.
	TakeChallenge(ctx context.Context, value [32]byte) (Challenge, error)
	// CreateSession stores a new session after a successful login.
	CreateSession(ctx context.Context, s Session) error
	// Authenticate returns the session whose AccessHash is h, and records
	// its device as seen. It MUST return ErrUnauthorized if there is none,
	// if its device has been revoked, or if its account is no longer
	// active; the handler itself checks AccessExpires.
	Authenticate(ctx context.Context, h [32]byte) (Session, error)
	// Refresh atomically replaces the session whose RefreshHash is old by
	// next (whose Account and DeviceID the backend copies from the old
	// session) and returns the new session. ErrUnauthorized if there is no
	// such session, its RefreshExpires is not after next.Issued, its device
	// is revoked or its account not active. A refresh token works once;
	// one used again after it was replaced ends every session of its
	// device (spec §4.3).
	Refresh(ctx context.Context, old [32]byte, next Session) (Session, error)
}

// Documents is an account's sync feed of opaque documents (spec §8).
type Documents interface {
	// Changes returns, in sequence order, the documents whose latest
	// change has a sequence number above since, at most limit of them;
	// ErrResync when since is above 0 and tombstones after it were
	// collected (spec §8.6).
	Changes(ctx context.Context, account string, since int64, limit int) ([]Change, error)
	// Head returns the sequence number of the account's latest change (0
	// before the first).
	Head(ctx context.Context, account string) (int64, error)
	// Watch subscribes to account's feed: after it returns, every change
	// to the feed sends on the channel (a buffered channel that may
	// coalesce several changes into one send). stop ends the
	// subscription; the handler calls it exactly once.
	Watch(account string) (changed <-chan struct{}, stop func())
	// Get returns a document's change and a reader of its c.Size bytes,
	// or its tombstone's (Deleted set, no reader); ErrNotFound if account
	// has no document with that id. The handler reads only the range it
	// serves, as it writes it, with ctx still live: a backend should read
	// its store in pieces rather than hold the document whole. A read
	// that fails part-way ends the response early (the client sees a
	// short body and tries again).
	Get(ctx context.Context, account, id string) (Change, io.ReaderAt, error)
	// Put creates (expected 0) or replaces a document (naming a
	// tombstone's revision re-creates it); Conflict(current) on a
	// revision mismatch.
	// data is the request body as for Send.
	Put(ctx context.Context, account, id, kind string, expected int64, data *io.SectionReader) (Change, error)
	// Delete replaces a document by a tombstone; ErrNotFound if there is
	// none or it already is one, Conflict(current) on a mismatch.
	Delete(ctx context.Context, account, id string, expected int64) (Change, error)
}

// Mode is an account's key-custody mode (DESIGN §4).
type Mode string

const (
	ModeParanoid Mode = "paranoid" // private keys exist only on devices
	ModeCautious Mode = "cautious" // plus a password-sealed key backup at the provider
)

// Registration is a validated register request (spec §5.1).
type Registration struct {
	Address string
	Invite  string
	Mode    Mode
	Request *signet.User // a self-signed signing request for Address, first of its chain
	Device  Device
	Backup  *KeyBackup // set exactly when Mode is ModeCautious
}

// Device is one of an account's devices. Key is its Ed25519 login key,
// separate from the user's signing key; ID is DeviceID(Key).
type Device struct {
	ID       string
	Key      ed25519.PublicKey
	Name     string
	Created  time.Time
	LastSeen time.Time // zero until the first authenticated request
}

// KeyBackup is a cautious account's backup (spec §6): the vault.Seal
// output, opaque to the provider, and what the provider needs to check
// that a device knows the password: the backup access public key and the
// salt and Argon2id parameters it was derived with.
type KeyBackup struct {
	Vault     []byte
	AccessKey ed25519.PublicKey
	Salt      []byte
	Params    vault.Params
}

// Purpose says what a challenge may be used for.
type Purpose string

const (
	PurposeLogin     Purpose = "login"
	PurposeEnroll    Purpose = "enroll"
	PurposeKeyBackup Purpose = "key-backup"
)

// Challenge is a single-use login challenge (spec §4.1). Key is the
// device key it was asked for (nil for PurposeKeyBackup).
type Challenge struct {
	Value   [32]byte
	Purpose Purpose
	Address string
	Key     ed25519.PublicKey
	Expires time.Time
}

// Session is one login of one device: the hashes of its two tokens and
// their expiry times.
type Session struct {
	Account        string
	DeviceID       string
	Issued         time.Time
	AccessHash     [32]byte
	AccessExpires  time.Time
	RefreshHash    [32]byte
	RefreshExpires time.Time
}

// Change is a document's latest change as the feed lists it.
type Change struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Revision int64  `json:"revision"`
	Seq      int64  `json:"seq"`
	Deleted  bool   `json:"deleted"`
	Size     int64  `json:"size"`
}

// Document is a document with its data (nil for a tombstone).
type Document struct {
	Change
	Data []byte
}

// Sent says what became of a sent message.
type Sent struct {
	Digest    [32]byte // the message's content digest (dmime)
	Delivered bool     // to a local account at once; false: queued for relay
}
