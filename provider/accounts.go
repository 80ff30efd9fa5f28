package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"umbra/provider/store"
	"umbra/signet"
)

// inviteEncoding is base32 without padding: case-insensitive, no 0/1/8.
var inviteEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// AddUser creates an invited account for address and returns its
// invitation code (shown once; only its hash is stored). The user's device
// completes the account with Register.
func (p *Provider) AddUser(ctx context.Context, address string) (string, error) {
	if err := signet.CheckAddress(address); err != nil {
		return "", err
	}
	if signet.DomainOf(address) != p.domain {
		return "", fmt.Errorf("provider: %s is not an address of %s", address, p.domain)
	}
	raw := make([]byte, 20) // 160 bits
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	s := inviteEncoding.EncodeToString(raw)
	var groups []string
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:min(i+4, len(s))])
	}
	code := strings.Join(groups, "-")
	if err := p.st.Accounts().AddInvited(ctx, address, inviteHash(code)); err != nil {
		return "", fmt.Errorf("provider: add %s: %w", address, err)
	}
	return code, nil
}

// inviteHash hashes a code in its canonical form: upper case, without the
// dashes and spaces a person may type.
func inviteHash(code string) [32]byte {
	c := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	return sha256.Sum256([]byte("umbra invitation v1\x00" + c))
}

// ErrInvite is returned for a wrong, used or unknown invitation.
var ErrInvite = errors.New("provider: invitation code wrong, already used, or unknown address")

// Issue is the one place where the provider certifies a user signet
// (docs/spec/signet.md §4.2). For an invited account, code must be its
// invitation code and req the first signet (no predecessor); the account
// becomes active in mode. For an active account (code empty), req must
// succeed the account's current signet (rotation, or a restart signed by
// the recovery key). The certified signet is appended to the account's
// chain and returned.
func (p *Provider) Issue(ctx context.Context, address, code string, mode store.Mode, req *signet.User) (*signet.User, error) {
	if req.Address != address {
		return nil, fmt.Errorf("provider: request is for %q, not %q", req.Address, address)
	}
	acct, err := p.st.Accounts().Get(ctx, address)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvite
	}
	if err != nil {
		return nil, err
	}
	if code != "" && acct.State != store.StateInvited {
		return nil, ErrInvite // a registration, but the invitation is used up
	}
	if !req.IsRequest() {
		return nil, fmt.Errorf("provider: not a signing request: it is already certified")
	}
	if err := req.VerifySelf(); err != nil {
		return nil, err
	}
	switch acct.State {
	case store.StateInvited:
		if !req.Prev.IsZero() {
			return nil, fmt.Errorf("provider: the first signet of %s must not succeed another", address)
		}
	case store.StateActive:
		cur, err := p.st.Signets().Current(ctx, address)
		if err != nil {
			return nil, err
		}
		prev, err := signet.ParseUser(cur.Signet)
		if err != nil {
			return nil, err
		}
		if err := signet.VerifyChain(prev, req); err != nil {
			return nil, fmt.Errorf("provider: new signet of %s does not succeed the current one: %w", address, err)
		}
	default:
		return nil, fmt.Errorf("%w: %s", ErrNotActive, address)
	}
	u, err := signet.Certify(req, p.org.Signet, p.org.SOK)
	if err != nil {
		return nil, err
	}
	if acct.State == store.StateInvited {
		// Activation checks the code (constant time) and happens once; the
		// signet is appended after it, so a wrong code stores nothing.
		err := p.st.Accounts().Activate(ctx, address, inviteHash(code), mode)
		if errors.Is(err, store.ErrBadCode) || errors.Is(err, store.ErrState) {
			return nil, ErrInvite
		}
		if err != nil {
			return nil, err
		}
	}
	// The log first (docs/spec/keylog.md §1): a signet handed out is
	// always in the log. A crash between the two leaves a logged signet
	// nobody was given, which its owner's audit shows and explains.
	if _, err := p.keylog.Append(ctx, u.Bytes()); err != nil {
		return nil, fmt.Errorf("provider: log signet of %s: %w", address, err)
	}
	if _, err := p.st.Signets().Append(ctx, address, u.Fingerprint(), u.Bytes()); err != nil {
		return nil, fmt.Errorf("provider: store signet of %s: %w", address, err)
	}
	return u, nil
}
