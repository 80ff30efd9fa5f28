package bridge

import (
	"context"
	"errors"

	"umbra/signet"
)

// errStoredLink: a kept signet is not the one its name says.
var errStoredLink = errors.New("a kept signet does not have the fingerprint it is kept under")

// maxStaleWalk bounds the walk back from a pinned signet to the one a
// provider serves: a year of monthly rotations with room to spare.
const maxStaleWalk = 64

// linkState names a signet that links a contact's pinned signet back to
// an earlier one (a step of a history continuity verified), kept only to
// recognise an older signet served as current later (newerPinned). It is
// not a signet this device verified in its organisation's log, which
// signetState names.
func linkState(fp signet.Fingerprint) string { return "link:" + fp.String() }

// newerPinned reports whether u, which u's provider serves as the current
// signet of its address, is older than the signet this device pinned for
// the address: an ancestor of it, each step signed over by the key before
// (docs/spec/signet.md §4.3). A provider that withholds a contact's newest
// signet (issue 12: a key rotated away, perhaps compromised, served again)
// then gets nothing from it: mail is sealed to the pinned signet, the
// newest this device knows, if it is still valid under the contact's
// organisation. It returns that signet and its trust.
func (b *Bridge) newerPinned(ctx context.Context, u *signet.User) (*signet.User, Trust, bool) {
	pinnedFP, ok, err := pinned(ctx, b.store, u.Address)
	if err != nil || !ok || pinnedFP.Equal(u.Fingerprint()) {
		return nil, Trust{}, false
	}
	newest, t, ok := b.dir.rememberedUser(ctx, u.Address, pinnedFP)
	if !ok {
		return nil, Trust{}, false
	}
	next := newest
	for range maxStaleWalk {
		if next.Prev.IsZero() {
			return nil, Trust{}, false
		}
		if next.Prev.Equal(u.Fingerprint()) {
			if signet.VerifyChain(u, next) != nil {
				return nil, Trust{}, false
			}
			return newest, t, true
		}
		prev, err := b.linkOf(ctx, next.Prev)
		if err != nil || prev.Address != u.Address || signet.VerifyChain(prev, next) != nil {
			return nil, Trust{}, false
		}
		next = prev
	}
	return nil, Trust{}, false
}

// linkOf is the signet fp as this device kept it: verified in a log
// (signetState) or as a link of a verified history (linkState).
func (b *Bridge) linkOf(ctx context.Context, fp signet.Fingerprint) (*signet.User, error) {
	raw, err := b.dir.mem.get(ctx, signetState(fp))
	if err != nil {
		if raw, err = b.dir.mem.get(ctx, linkState(fp)); err != nil {
			return nil, err
		}
	}
	u, err := signet.ParseUser(raw)
	if err != nil {
		return nil, err
	}
	if !u.Fingerprint().Equal(fp) {
		return nil, errStoredLink
	}
	return u, nil
}
