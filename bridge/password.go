package bridge

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"umbra/bridge/mailstore"
	"umbra/vault"
)

// The bridge password is what mail clients log in with at IMAP and SMTP.
// It is derived from the storage key and a generation number kept in the
// device's encrypted store, so it is never written anywhere and stays the
// same from start to start; `umbra bridge password rotate` moves this
// device to the next generation when a password may have leaked.

// passwordState names the generation in the store; absent is 0.
const passwordState = "bridge-password-generation"

// Password is the bridge password of generation gen of keys's account.
// Generation 0 keeps the derivation of the first releases, so rotation
// changes no password that was not rotated.
func Password(keys *vault.Keys, gen uint64) (string, error) {
	info := "umbra bridge password v1"
	if gen > 0 {
		info += "/" + strconv.FormatUint(gen, 10)
	}
	raw, err := derive(keys.Storage, info, 15)
	if err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.EncodeToString(raw)), nil
}

// passwordGeneration reads the store's generation.
func passwordGeneration(ctx context.Context, st *mailstore.Store) (uint64, error) {
	v, err := st.GetState(ctx, passwordState)
	if errors.Is(err, mailstore.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	gen, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bridge: password generation %q: %w", v, err)
	}
	return gen, nil
}

// CurrentPassword returns the bridge password of the account in dir
// (`umbra bridge password show`). Works while the bridge runs.
func CurrentPassword(ctx context.Context, dir string, keys *vault.Keys) (string, error) {
	return passwordOf(ctx, dir, keys, 0)
}

// RotatePassword moves the account in dir to a new bridge password and
// returns it. A running bridge takes it within a second (watchOthers) and
// ends the IMAP sessions logged in with the old one.
func RotatePassword(ctx context.Context, dir string, keys *vault.Keys) (string, error) {
	return passwordOf(ctx, dir, keys, 1)
}

// passwordOf moves the generation of the account in dir on by step and
// returns the password of the result.
func passwordOf(ctx context.Context, dir string, keys *vault.Keys, step uint64) (string, error) {
	st, err := openStore(dir, keys)
	if err != nil {
		return "", err
	}
	defer st.Close()
	gen, err := passwordGeneration(ctx, st)
	if err != nil {
		return "", err
	}
	if step > 0 {
		gen += step
		if err := st.SetState(ctx, passwordState, []byte(strconv.FormatUint(gen, 10))); err != nil {
			return "", fmt.Errorf("bridge: rotate the password: %w", err)
		}
	}
	return Password(keys, gen)
}

// loadPassword sets the bridge's password from the store's generation,
// and reports whether it changed.
func (b *Bridge) loadPassword(ctx context.Context) (bool, error) {
	gen, err := passwordGeneration(ctx, b.store)
	if err != nil {
		return false, err
	}
	pw, err := Password(b.cfg.Keys, gen)
	if err != nil {
		return false, err
	}
	if old := b.password.Load(); old != nil && *old == pw {
		return false, nil
	}
	b.password.Store(&pw)
	return true, nil
}
