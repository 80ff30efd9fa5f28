package bridge

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/signet"
	"umbra/vault"
)

// The signets this device pinned for its Umbra correspondents, and the
// user's verifications of them, travel to the user's other devices in the
// correspondent's contact document (docs/spec/sync.md §5.5, version 2),
// merged by time like its OpenPGP parts (contactsync.go): a key followed
// along its chain, trusted or verified on one device is the key of every
// device, and a look-up one device made need not be made again.

// pinFresh is how long a pin stands for its correspondent's current
// signet: mail within it is sealed to the pinned signet without a look-up
// (issue 12: a fresh look-up only when the cached signet expires or the
// user asks, `umbra keys refresh`). It is far shorter than the time a
// rotated key is kept (docs/spec/vault.md §5, 30 days), so mail sealed to
// a pin rotated away still opens; and a correspondent's mail carries
// their newest signet, which moves the pin on arrival.
const pinFresh = 24 * time.Hour

// recipientSignet is rcpt's signet to seal to, and its trust: the pinned
// one while the pin is fresh (fresh true), else the current one looked up.
func (b *Bridge) recipientSignet(ctx context.Context, rcpt string) (u *signet.User, t Trust, fresh bool, err error) {
	if raw, err := b.store.GetState(ctx, contactState(rcpt)); err == nil {
		if fp, at, err := unstamp(raw); err == nil && b.now().Sub(fromMillis(at)) < pinFresh {
			if u, t, ok := b.dir.rememberedUser(ctx, rcpt, fp); ok {
				return u, t, true, nil
			}
		}
	}
	u, t, err = b.dir.User(ctx, rcpt, signet.Fingerprint{})
	return u, t, false, err
}

// RefreshKey makes the pin of address in the account's store at dir
// stale, so that the next mail to address looks its signet up again
// (`umbra keys refresh`). Works while the bridge runs. ErrNotFound if
// nothing is pinned.
func RefreshKey(ctx context.Context, dir string, keys *vault.Keys, address string) error {
	st, err := openStore(dir, keys)
	if err != nil {
		return err
	}
	defer st.Close()
	raw, err := st.GetState(ctx, contactState(address))
	if err != nil {
		return err
	}
	fp, _, err := unstamp(raw)
	if err != nil {
		return err
	}
	return st.SetState(ctx, contactState(address), stamped(fp, time.UnixMilli(1)))
}

// stamped is a pin or verification as stored: the fingerprint, then the
// time in unix milliseconds (8 bytes, big-endian). A value of the
// fingerprint alone (stores from before the times were kept) reads as
// time 1, older than any time kept since.
func stamped(fp signet.Fingerprint, at time.Time) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(fp[:]), uint64(millis(at)))
}

// unstamp reads a stamped value.
func unstamp(raw []byte) (fp signet.Fingerprint, at int64, err error) {
	switch len(raw) {
	case len(fp):
		at = 1
	case len(fp) + 8:
		at = int64(binary.BigEndian.Uint64(raw[len(fp):]))
	default:
		return fp, 0, fmt.Errorf("a stored fingerprint of %d bytes", len(raw))
	}
	copy(fp[:], raw)
	return fp, at, nil
}

// setPin pins fp for address now and marks the correspondent for the
// push.
func (b *Bridge) setPin(ctx context.Context, address string, fp signet.Fingerprint) error {
	b.peerMu.Lock()
	defer b.peerMu.Unlock()
	if err := b.store.SetState(ctx, contactState(address), stamped(fp, b.now())); err != nil {
		return err
	}
	return b.contactChanged(ctx, address)
}

// setVerified records the user's verification of fp, address's pinned
// key, now, and marks the correspondent for the push.
func (b *Bridge) setVerified(ctx context.Context, address string, fp signet.Fingerprint) error {
	b.peerMu.Lock()
	defer b.peerMu.Unlock()
	if err := b.store.SetState(ctx, verifiedState(address), stamped(fp, b.now())); err != nil {
		return err
	}
	return b.contactChanged(ctx, address)
}

// loadPin reads address's pin as a contact document holds it: the pinned
// signet's bytes and when it was pinned, and when the user verified it (0:
// never). A pin whose signet the store does not hold is left out.
func (b *Bridge) loadPin(ctx context.Context, address string) (syncdoc.ContactKey, int64, error) {
	raw, err := b.store.GetState(ctx, contactState(address))
	if errors.Is(err, mailstore.ErrNotFound) {
		return syncdoc.ContactKey{}, 0, nil
	}
	if err != nil {
		return syncdoc.ContactKey{}, 0, err
	}
	fp, at, err := unstamp(raw)
	if err != nil {
		return syncdoc.ContactKey{}, 0, fmt.Errorf("contact %s: %w", address, err)
	}
	sig, err := b.store.GetState(ctx, signetState(fp))
	if errors.Is(err, mailstore.ErrNotFound) {
		return syncdoc.ContactKey{}, 0, nil
	}
	if err != nil {
		return syncdoc.ContactKey{}, 0, err
	}
	var verified int64
	if raw, err := b.store.GetState(ctx, verifiedState(address)); err == nil {
		if vfp, vat, err := unstamp(raw); err == nil && vfp == fp {
			verified = vat
		}
	} else if !errors.Is(err, mailstore.ErrNotFound) {
		return syncdoc.ContactKey{}, 0, err
	}
	return syncdoc.ContactKey{At: at, Key: sig}, verified, nil
}

// savePin makes pin, verified at verified, address's pin in the store;
// the caller holds peerMu. The signet is kept as one verified before:
// the device that pinned it is one of the user's, which checked it.
func (b *Bridge) savePin(ctx context.Context, address string, pin syncdoc.ContactKey, verified int64) error {
	if len(pin.Key) == 0 {
		return nil
	}
	u, err := signet.ParseUser(pin.Key)
	if err != nil || u.Address != address {
		return &permanentError{fmt.Errorf("the contact document of %s pins no signet of that address", address)}
	}
	fp := u.Fingerprint()
	if err := b.store.SetState(ctx, signetState(fp), pin.Key); err != nil {
		return err
	}
	if err := b.store.SetState(ctx, contactState(address), stamped(fp, fromMillis(pin.At))); err != nil {
		return err
	}
	if verified == 0 {
		return b.store.DeleteState(ctx, verifiedState(address))
	}
	return b.store.SetState(ctx, verifiedState(address), stamped(fp, fromMillis(verified)))
}
