package bridge

import (
	"context"
	"errors"
	"fmt"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/signet"
	"umbra/vault"
)

// LevelChanged: the author's signet is valid under its organisation, but
// it does not descend from the signet this device saw for the address
// before (docs/spec/signet.md §6: chain of custody). Either the person
// restarted their chain from the recovery phrase, or someone — their
// provider, say — certified a key that is not theirs. The user should
// check the fingerprint with them.
const LevelChanged = "changed"

// contactState is the state name under which the local store keeps the
// fingerprint of the last signet seen for an address: the bridge's
// contacts, with their pinned keys, encrypted at rest with the rest.
func contactState(address string) string { return "contact:" + address }

// continuity checks the author's signet u against the one pinned for its
// address: the first one seen is pinned (trust on first use, on top of the
// DNS anchor); a newer one is accepted, and pinned, only if a chain links
// the pinned signet to it with each step signed by the previous key: the
// earlier signets the message carried (carried, newest first; dmime spec
// §7.3), or else the provider's history. t is the Directory's verdict; the
// result is that, or LevelChanged with t's warning.
func (b *Bridge) continuity(ctx context.Context, u *signet.User, t Trust, carried [][]byte) (Trust, error) {
	changed := Trust{Level: LevelChanged, Warning: t.Warning}
	fp := u.Fingerprint()
	pinnedFP, ok, err := pinned(ctx, b.store, u.Address)
	switch {
	case err != nil:
		return Trust{}, err
	case !ok:
		return t, b.setPin(ctx, u.Address, fp)
	}
	if pinnedFP.Equal(fp) {
		return t, nil
	}
	if links := carriedLinks(pinnedFP, u, carried); links != nil {
		return t, b.pinAlong(ctx, u, links)
	}
	frames, err := b.dir.History(ctx, u.Address, pinnedFP, fp)
	if err != nil {
		return changed, fmt.Errorf("%w: %v", errUnchecked, err)
	}
	chain := make([]*signet.User, 0, len(frames))
	for _, f := range frames {
		s, err := signet.ParseUser(f)
		if err != nil {
			return changed, nil
		}
		chain = append(chain, s)
	}
	if len(chain) < 2 || !chain[0].Fingerprint().Equal(pinnedFP) || !chain[len(chain)-1].Fingerprint().Equal(fp) ||
		signet.VerifyHistory(chain) != nil {
		return changed, nil
	}
	return t, b.pinAlong(ctx, u, chain[:len(chain)-1])
}

// pinAlong pins u, reached along links from the pinned signet. The links
// are kept, so that an older one served as current later is recognised as
// such (newerPinned).
func (b *Bridge) pinAlong(ctx context.Context, u *signet.User, links []*signet.User) error {
	for _, s := range links {
		if err := b.dir.mem.put(ctx, linkState(s.Fingerprint()), s.Bytes()); err != nil {
			return err
		}
	}
	return b.setPin(ctx, u.Address, u.Fingerprint())
}

// carriedLinks returns the carried earlier signets from the one pinned
// down to the one u succeeds, if they link u back to pinned, each step
// signed by the key before it; nil otherwise.
func carriedLinks(pinned signet.Fingerprint, u *signet.User, carried [][]byte) []*signet.User {
	next := u
	var links []*signet.User
	for _, raw := range carried {
		prev, err := signet.ParseUser(raw)
		if err != nil || prev.Address != u.Address || signet.VerifyChain(prev, next) != nil {
			return nil
		}
		links = append(links, prev)
		if prev.Fingerprint().Equal(pinned) {
			return links
		}
		next = prev
	}
	return nil
}

// errUnchecked: continuity could not fetch the history that would link
// the pinned key to the new one. A received message is shown as changed
// (its verdict says so); mail to the contact waits and is retried.
var errUnchecked = errors.New("the key change cannot be checked now")

// ErrKeyChanged holds mail to a contact whose current signet does not
// descend from the one this device pinned (docs/spec/signet.md §4.3): the
// contact restarted their chain, or someone certified a key in their
// name. The user decides, after checking the fingerprint with them:
// `umbra keys trust ADDRESS FINGERPRINT`.
var ErrKeyChanged = errors.New("the contact's key changed without a chain from the one this device knows")

// heldForChange is the error of mail to u held by ErrKeyChanged; the user
// is told once per new key, in the inbox.
func (b *Bridge) heldForChange(ctx context.Context, u *signet.User) error {
	fp := u.Fingerprint()
	told := "keychange:" + u.Address
	if raw, err := b.store.GetState(ctx, told); err != nil || string(raw) != fp.String() {
		body := fmt.Sprintf("The key of %s changed, and the new key does not descend from the one your bridge knew.\r\n\r\n"+
			"Either %s started over (a lost device, a recovery phrase), or someone made a key in their name to\r\n"+
			"read your mail. Mail to %s waits in your outbox until you decide.\r\n\r\n"+
			"Check the new fingerprint with them, by phone or in person:\r\n\r\n  %s\r\n\r\n"+
			"If it is theirs, run:  umbra keys trust %s %s\r\n", u.Address, u.Address, u.Address, fp, u.Address, fp)
		if _, _, err := b.store.Add(ctx, mailstore.NewMessage{
			Key: syncdoc.NewKey(), Mailbox: mailstore.Inbox,
			MIME: noticeMIME("Security warning: the key of "+u.Address+" changed", body),
		}, mailstore.Local); err != nil {
			return err
		}
		if err := b.store.SetState(ctx, told, []byte(fp.String())); err != nil {
			return err
		}
	}
	return fmt.Errorf("held: %w: %s now has key %s; check it with them, then umbra keys trust %s %s", ErrKeyChanged, u.Address, fp, u.Address, fp)
}

// pinned returns the fingerprint pinned for address, if any.
func pinned(ctx context.Context, st *mailstore.Store, address string) (signet.Fingerprint, bool, error) {
	raw, err := st.GetState(ctx, contactState(address))
	if errors.Is(err, mailstore.ErrNotFound) {
		return signet.Fingerprint{}, false, nil
	}
	if err != nil {
		return signet.Fingerprint{}, false, err
	}
	fp, _, err := unstamp(raw)
	if err != nil {
		return fp, false, fmt.Errorf("contact %s: %w", address, err)
	}
	return fp, true, nil
}

// TrustKey pins fp as address's key in the account's store at dir, the
// user's decision after a key change (`umbra keys trust`): mail held for
// the contact goes at the outbox's next try, and mail signed with that key
// is shown as trusted. Works while the bridge runs.
func TrustKey(ctx context.Context, dir string, keys *vault.Keys, address string, fp signet.Fingerprint) error {
	st, err := openStore(dir, keys)
	if err != nil {
		return err
	}
	defer st.Close()
	return (&Bridge{store: st}).setPin(ctx, address, fp)
}
