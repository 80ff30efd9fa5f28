package store

import (
	"context"
	"crypto/ed25519"
	"time"
)

// The views below hold what DMAP login needs (docs/spec/store.md §9–§11):
// each account's devices, the single-use login challenges and the token
// sessions. Tokens reach the store only as SHA-256 hashes, so a copy of
// the database cannot be replayed as a token.

// TouchInterval is the precision of a device's last seen time: Touch
// writes only when the stored time is at least this much older, so an
// authenticated request costs a durable write at most once a minute per
// device (docs/spec/store.md §9.2).
const TouchInterval = time.Minute

// Device is one of an account's devices and its Ed25519 login key.
type Device struct {
	Account  string
	ID       string            // opaque to the store; the provider derives it from Key (dmap.DeviceID)
	Key      ed25519.PublicKey // 32 bytes
	Name     string
	Created  time.Time
	LastSeen time.Time // zero until the first Touch
}

// Challenge is a single-use login challenge (docs/spec/store.md §10).
type Challenge struct {
	Value   [32]byte
	Purpose string            // what it may be used for; the store only checks its syntax
	Address string            // the address it was issued for, whether or not it has an account
	Key     ed25519.PublicKey // the device key it was issued for; nil if none
	Expires time.Time
}

// Session is one login of one device (docs/spec/store.md §11): the hashes
// of its access and refresh tokens and when each expires.
type Session struct {
	Account        string
	DeviceID       string
	Issued         time.Time
	AccessHash     [32]byte
	AccessExpires  time.Time
	RefreshHash    [32]byte
	RefreshExpires time.Time
}

// Devices holds each account's devices (docs/spec/store.md §9). A device
// is active until it is revoked; revoked devices are kept, invisible,
// so that a revoked key can never be enrolled again in that account.
type Devices interface {
	// Add enrols d in d.Account, which must be active (ErrState;
	// ErrNotFound if there is no account). ErrExists if the account
	// already has a device, active or revoked, with d.ID or d.Key.
	// d.LastSeen is ignored: a new device has not been seen.
	Add(ctx context.Context, d Device) error
	// ByKey is the login look-up: it returns account's active device with
	// this key if the account is active too; ErrNotFound for every other
	// case alike (no account, account not active, unknown key, revoked
	// device).
	ByKey(ctx context.Context, account string, key ed25519.PublicKey) (Device, error)
	// List returns account's active devices, ordered by Created then ID,
	// whatever the account's state; ErrNotFound if there is no account.
	List(ctx context.Context, account string) ([]Device, error)
	// Rename sets the name of account's active device id; ErrNotFound if
	// there is no such device.
	Rename(ctx context.Context, account, id, name string) error
	// Revoke marks account's active device id revoked at at and deletes
	// its sessions, in one durable write: once it returns, no session of
	// the device authenticates or refreshes. ErrNotFound if there is no
	// such active device.
	Revoke(ctx context.Context, account, id string, at time.Time) error
	// Touch records at as the last time account's active device id was
	// seen. It writes only if the stored time is zero or at least
	// TouchInterval before at, and never moves the time backwards.
	// ErrNotFound if there is no such active device.
	Touch(ctx context.Context, account, id string, at time.Time) error
}

// Challenges holds single-use login challenges (docs/spec/store.md §10).
type Challenges interface {
	// Put stores c until it is taken or purged. ErrExists if a challenge
	// with c.Value is stored (with 32 random bytes, never in practice).
	Put(ctx context.Context, c Challenge) error
	// Take removes and returns the challenge with this value: of several
	// concurrent Takes of one value exactly one succeeds, the others get
	// ErrNotFound, as does a value never put or already taken. An expired
	// challenge is returned until it is purged; the caller checks Expires.
	Take(ctx context.Context, value [32]byte) (Challenge, error)
	// Purge removes the challenges that expired at or before now and
	// returns how many.
	Purge(ctx context.Context, now time.Time) (int, error)
}

// Sessions holds token sessions (docs/spec/store.md §11). A session is
// live while its device is active and its account is active; the store
// never returns or refreshes one that is not.
type Sessions interface {
	// Create stores s. ErrState if s.Account is not active (ErrNotFound if
	// there is no account), ErrNotFound if it has no active device
	// s.DeviceID, ErrExists if either hash is already a session's.
	Create(ctx context.Context, s Session) error
	// ByAccess returns the live session whose AccessHash is h;
	// ErrNotFound if there is none. It does not look at expiry times:
	// the caller checks AccessExpires.
	ByAccess(ctx context.Context, h [32]byte) (Session, error)
	// Refresh atomically replaces the live session whose RefreshHash is
	// old, if its RefreshExpires is after next.Issued, by next with the
	// old session's Account and DeviceID, and returns next as stored.
	// ErrNotFound otherwise: a refresh token works once, and of several
	// concurrent Refreshes of one token exactly one succeeds. A token
	// used again after it was replaced (until its own expiry and a Purge)
	// ends every session of its device, still answering ErrNotFound: its
	// holder and whoever copied it both log in again. ErrExists if a hash
	// of next is already a session's (the old one stays).
	Refresh(ctx context.Context, old [32]byte, next Session) (Session, error)
	// DeleteByDevice deletes every session of account's device id and
	// returns how many.
	DeleteByDevice(ctx context.Context, account, id string) (int, error)
	// Purge removes the sessions whose access and refresh tokens have
	// both expired at or before now and returns how many.
	Purge(ctx context.Context, now time.Time) (int, error)
}
