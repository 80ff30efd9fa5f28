package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"umbra/bridge/mailstore"
	"umbra/signet"
	"umbra/vault"
)

// What the user sees of the keys this device knows (`umbra keys list`,
// `show`, `verify`).

// verifiedState names the fingerprint the user checked with the
// correspondent (`umbra keys verify`).
func verifiedState(address string) string { return "verified:" + address }

// ErrFingerprintMismatch: the fingerprint the user read out with the
// correspondent is not the key this device uses for them.
var ErrFingerprintMismatch = errors.New("the fingerprint does not match the key this device uses")

// VerifyKey records that the user compared fp with address's own (read to
// them in person, or over a channel they trust) and that it is the key
// this device pinned: `umbra keys show` and `list` then say "verified by
// you". A different fingerprint is ErrFingerprintMismatch, and nothing is
// recorded. Works while the bridge runs.
func VerifyKey(ctx context.Context, dir string, keys *vault.Keys, address string, fp signet.Fingerprint) error {
	st, err := openStore(dir, keys)
	if err != nil {
		return err
	}
	defer st.Close()
	pin, ok, err := pinned(ctx, st, address)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("this device knows no key for %s yet (it learns one with the first message either way)", address)
	}
	if pin != fp {
		return fmt.Errorf("%w: %s uses %s for %s; check again, and if they are sure, ask how their key changed", ErrFingerprintMismatch, "this device", pin, address)
	}
	return (&Bridge{store: st}).setVerified(ctx, address, fp)
}

// ContactKeys is what this device knows of one correspondent.
type ContactKeys struct {
	Address string
	// Pinned is the signet fingerprint of an Umbra correspondent (zero:
	// none); Verified, that the user verified that fingerprint.
	Pinned   signet.Fingerprint
	Verified bool
	// OpenPGP are the keys of a correspondent outside Umbra.
	OpenPGP []KnownKey
}

// Contacts lists what the store of the account in dir knows of each
// correspondent, by address (`umbra keys list`); only is the one address
// to show, or "" for all. Works while the bridge runs.
func Contacts(ctx context.Context, dir string, keys *vault.Keys, only string) ([]ContactKeys, error) {
	st, err := openStore(dir, keys)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	byAddr := map[string]*ContactKeys{}
	get := func(a string) *ContactKeys {
		if byAddr[a] == nil {
			byAddr[a] = &ContactKeys{Address: a}
		}
		return byAddr[a]
	}
	dark, err := st.StateNames(ctx, contactState(only))
	if err != nil {
		return nil, err
	}
	for _, name := range dark {
		a := strings.TrimPrefix(name, contactState(""))
		if only != "" && a != only {
			continue
		}
		fp, ok, err := pinned(ctx, st, a)
		if err != nil || !ok {
			return nil, err
		}
		c := get(a)
		c.Pinned = fp
		v, err := st.GetState(ctx, verifiedState(a))
		switch {
		case err == nil:
			vfp, _, err := unstamp(v)
			c.Verified = err == nil && vfp == fp
		case !errors.Is(err, mailstore.ErrNotFound):
			return nil, err
		}
	}
	legacy, err := st.StateNames(ctx, peerState(only))
	if err != nil {
		return nil, err
	}
	b := &Bridge{store: st}
	for _, name := range legacy {
		a := strings.TrimPrefix(name, peerState(""))
		if only != "" && a != strings.ToLower(only) {
			continue
		}
		known, err := b.knownKeys(ctx, a)
		if err != nil {
			return nil, err
		}
		if len(known) > 0 {
			get(a).OpenPGP = known
		}
	}
	out := make([]ContactKeys, 0, len(byAddr))
	for _, c := range byAddr {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(x, y ContactKeys) int { return strings.Compare(x.Address, y.Address) })
	return out, nil
}
