package bridge

import (
	"context"
	"errors"
	"fmt"

	"umbra/bridge/mailstore"
	"umbra/signet"
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
// DNS anchor); a newer one is accepted, and pinned, only if the provider's
// history links the pinned signet to it with each step signed by the
// previous key. t is the Directory's verdict; the result is that, or
// LevelChanged with t's warning.
func (b *Bridge) continuity(ctx context.Context, u *signet.User, t Trust) (Trust, error) {
	changed := Trust{Level: LevelChanged, Warning: t.Warning}
	fp := u.Fingerprint()
	raw, err := b.store.GetState(ctx, contactState(u.Address))
	switch {
	case errors.Is(err, mailstore.ErrNotFound):
		return t, b.store.SetState(ctx, contactState(u.Address), fp[:])
	case err != nil:
		return Trust{}, err
	}
	var pinned signet.Fingerprint
	if len(raw) != len(pinned) {
		return Trust{}, fmt.Errorf("contact %s: stored fingerprint of %d bytes", u.Address, len(raw))
	}
	copy(pinned[:], raw)
	if pinned.Equal(fp) {
		return t, nil
	}
	frames, err := b.dir.History(ctx, u.Address, pinned, fp)
	if err != nil {
		// Cannot tell now; the message is shown, its verdict says so.
		return changed, nil
	}
	chain := make([]*signet.User, 0, len(frames))
	for _, f := range frames {
		s, err := signet.ParseUser(f)
		if err != nil {
			return changed, nil
		}
		chain = append(chain, s)
	}
	if len(chain) < 2 || !chain[0].Fingerprint().Equal(pinned) || !chain[len(chain)-1].Fingerprint().Equal(fp) ||
		signet.VerifyHistory(chain) != nil {
		return changed, nil
	}
	return t, b.store.SetState(ctx, contactState(u.Address), fp[:])
}
