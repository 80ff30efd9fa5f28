package bridge

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
	"umbra/vault"
)

// The keyring document (docs/spec/sync.md §5.7) carries the account's
// keys to its other devices when one device rotates them (DESIGN §4). The
// rotating device publishes the new keys before the provider certifies
// them, so no mail sealed to them can come before them in the feed; a
// device that finds keys other than its own keeps them aside, encrypted in
// its store, and adopts them once the account's current signet carries
// them — when it finds them, when mail does not open with its keys, or
// when its outgoing mail finds its signing key replaced — retiring its own
// encryption key and saving the keys in its vault (Config.SaveKeys).

// pendingKeysState holds a keyring plaintext not adopted yet.
const pendingKeysState = "keyring-pending"

// PublishKeys makes the account's keyring document hold keys' signing and
// encryption keys. Nothing is written when it holds them already, or,
// with only set, when it holds other keys than only's (a rotation that did
// not happen takes back only its own keys, never another device's). An
// account without a storage key has no synced documents and no keyring.
func PublishKeys(ctx context.Context, cl *dmap.Client, keys, only *vault.Keys) error {
	if keys.Storage == nil {
		return nil
	}
	sealer, err := syncdoc.NewSealer(keys.Storage)
	if err != nil {
		return err
	}
	kr := syncdoc.Keyring{Signing: keys.Signing.Seed(), Encryption: keys.Encryption}
	plain, err := kr.Marshal()
	if err != nil {
		return err
	}
	defer clear(plain)
	var want []byte
	if only != nil {
		kr := syncdoc.Keyring{Signing: only.Signing.Seed(), Encryption: only.Encryption}
		if want, err = kr.Marshal(); err != nil {
			return err
		}
		defer clear(want)
	}
	for range 3 { // a conflict is another device's write: read again
		var rev int64
		doc, err := cl.Get(ctx, syncdoc.KeyringID)
		var de *dmap.Error
		switch {
		case errors.Is(err, dmap.ErrNotFound), errors.As(err, &de) && errors.Is(err, dmap.ErrDeleted):
			if only != nil {
				return nil
			}
			if de != nil {
				rev = de.Current
			}
		case err != nil:
			return fmt.Errorf("read the keyring document: %w", err)
		default:
			rev = doc.Revision
			cur, err := sealer.Open(doc.ID, doc.Kind, doc.Revision, doc.Data)
			holds := func(p []byte) bool { return err == nil && bytes.Equal(cur, p) }
			done := holds(plain) || only != nil && !holds(want)
			clear(cur)
			if done {
				return nil
			}
		}
		sealed, err := sealer.Seal(syncdoc.KeyringID, syncdoc.KindKeyring, rev+1, plain)
		if err != nil {
			return err
		}
		_, err = cl.Put(ctx, syncdoc.KeyringID, syncdoc.KindKeyring, rev, sealed)
		if !errors.Is(err, dmap.ErrConflict) {
			if err != nil {
				return fmt.Errorf("publish the keyring document: %w", err)
			}
			return nil
		}
	}
	return errors.New("publish the keyring document: it kept changing")
}

// applyKeyring keeps the keys of a keyring document aside, unless they
// are this device's, and adopts them if the account's signet carries
// them already.
func (b *Bridge) applyKeyring(ctx context.Context, kr *syncdoc.Keyring) error {
	defer clear(kr.Signing)
	defer clear(kr.Encryption)
	if bytes.Equal(b.signingKey().Seed(), kr.Signing) {
		return b.store.DeleteState(ctx, pendingKeysState) // this device's keys
	}
	plain, err := kr.Marshal()
	if err != nil {
		return &permanentError{err}
	}
	defer clear(plain)
	if err := b.store.SetState(ctx, pendingKeysState, plain); err != nil {
		return err
	}
	_, err = b.takePendingKeys(ctx)
	return err
}

// takePendingKeys adopts the keys kept aside if the account's current
// signet (verified as every own signet is) carries them, and reports
// whether it did.
func (b *Bridge) takePendingKeys(ctx context.Context) (bool, error) {
	b.adoptMu.Lock()
	defer b.adoptMu.Unlock()
	plain, err := b.store.GetState(ctx, pendingKeysState)
	if errors.Is(err, mailstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer clear(plain)
	kr, err := syncdoc.ParseKeyring(plain)
	if err != nil {
		return false, b.store.DeleteState(ctx, pendingKeysState)
	}
	defer clear(kr.Signing)
	defer clear(kr.Encryption)
	me, err := b.ownSignet(ctx)
	if err != nil {
		return false, fmt.Errorf("the account's current signet: %w", err)
	}
	signing := ed25519.NewKeyFromSeed(kr.Signing)
	defer clear(signing)
	enc, err := hpke.MLKEM768X25519().NewPrivateKey(kr.Encryption)
	if err != nil {
		return false, b.store.DeleteState(ctx, pendingKeysState)
	}
	if !me.SigningKey.Equal(signing.Public()) || !bytes.Equal(me.Enc.Bytes(), enc.PublicKey().Bytes()) {
		return false, nil // not certified (yet): the rotating device publishes again either way
	}
	b.keysMu.RLock()
	next := b.cfg.Keys.Rotated(signing, kr.Encryption, me.NotBefore)
	b.keysMu.RUnlock()
	if b.cfg.SaveKeys == nil {
		next.Zero()
		return false, errors.New("keyring: this bridge cannot save keys in its vault")
	}
	if err := b.cfg.SaveKeys(next); err != nil {
		next.Zero()
		return false, fmt.Errorf("keyring: save the new keys in the vault: %w", err)
	}
	b.keysMu.Lock()
	// Fields replaced, not overwritten: a sender holding the old signing
	// key finishes with it (and its mail waits: outbox.go).
	b.cfg.Keys.Signing, b.cfg.Keys.Encryption, b.cfg.Keys.Retired = next.Signing, next.Encryption, next.Retired
	b.decKeys = nil
	b.keysMu.Unlock()
	b.log.Info("keyring: took the account's new keys, rotated on another device", "signet", me.Fingerprint())
	return true, b.store.DeleteState(ctx, pendingKeysState)
}

// fetchKeyring reads the keyring document now, without waiting for the
// pull, and reports whether this device took keys from it: the audit's
// check before it calls a current signet that is not this device's a
// stranger's.
func (b *Bridge) fetchKeyring(ctx context.Context) (bool, error) {
	if b.cfg.Client == nil || b.sealer == nil {
		return false, nil
	}
	doc, err := b.cfg.Client.Get(ctx, syncdoc.KeyringID)
	if errors.Is(err, dmap.ErrNotFound) || errors.Is(err, dmap.ErrDeleted) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the keyring document: %w", err)
	}
	plain, err := b.sealer.Open(doc.ID, doc.Kind, doc.Revision, doc.Data)
	if err != nil {
		return false, nil // the pull rejects it, and says why
	}
	kr, err := syncdoc.ParseKeyring(plain)
	clear(plain)
	if err != nil {
		return false, nil
	}
	before := b.signingKey()
	if err := b.applyKeyring(ctx, kr); err != nil {
		return false, err
	}
	return !b.signingKey().Equal(before), nil
}

// signingKey is the account's signing key now.
func (b *Bridge) signingKey() ed25519.PrivateKey {
	b.keysMu.RLock()
	defer b.keysMu.RUnlock()
	return b.cfg.Keys.Signing
}
