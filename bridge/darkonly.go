package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-smtp"

	"umbra/bridge/mailstore"
)

// darkOnlyState is the store's name of the dark-only setting: "1" when on.
// It lives in the store beside the rest of the account's local state.
const darkOnlyState = "setting:dark-only"

// loadDarkOnly reads the dark-only setting, first storing Config.DarkOnly
// when given.
func (b *Bridge) loadDarkOnly(ctx context.Context) error {
	if on := b.cfg.DarkOnly; on != nil {
		v := []byte("0")
		if *on {
			v = []byte("1")
		}
		if err := b.store.SetState(ctx, darkOnlyState, v); err != nil {
			return fmt.Errorf("bridge: dark only: %w", err)
		}
	}
	v, err := b.store.GetState(ctx, darkOnlyState)
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return fmt.Errorf("bridge: dark only: %w", err)
	}
	b.darkOnly.Store(string(v) == "1")
	return nil
}

// DarkOnly reports whether the account sends only end-to-end encrypted
// mail: to Umbra addresses, and to legacy addresses only with OpenPGP.
func (b *Bridge) DarkOnly() bool { return b.darkOnly.Load() }

// errDarkOnly is the submission's answer for a legacy recipient the
// bridge cannot encrypt to while the account is dark only (RFC 3463
// 5.7.1: delivery not authorised by policy).
func errDarkOnly(rcpt string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: fmt.Sprintf(
		"%s is not an Umbra address and this account sends only end-to-end encrypted mail (dark only); "+
			"the bridge has no OpenPGP key for %s to encrypt to. Import their key with 'umbra keys import', "+
			"or turn dark only off with 'umbra bridge --dark-only=false'", rcpt, rcpt)}
}
