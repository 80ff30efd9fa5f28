package provider

import (
	"context"
	"crypto/hpke"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"umbra/provider/store"
	"umbra/signet"
)

// KindBounce is the document kind of a bounce notice in a mailbox.
const KindBounce = "bounce"

// BounceInfo is the HPKE info string of bounce notices (suite v1), so a
// notice can never be mistaken for another sealed object.
const BounceInfo = "umbra bounce notice v1"

// BounceNotice is the plaintext of a bounce notice: which message could not
// be delivered, where, and why. Only the author can read it.
type BounceNotice struct {
	Digest   string    `json:"digest"` // hex of the message digest (dmime Layout.Digest)
	Domain   string    `json:"domain"`
	Queued   time.Time `json:"queued"`
	Attempts int       `json:"attempts"`
	Reason   string    `json:"reason"`
}

// bounce puts a notice, sealed to the author's current encryption key, in
// the author's mailbox. The provider knows the author (it is the origin)
// but stores the reason only sealed, like everything else in a mailbox.
func (p *Provider) bounce(ctx context.Context, e store.QueueEntry, cause error) error {
	author := string(e.BounceTo)
	rec, err := p.st.Signets().Current(ctx, author)
	if err != nil {
		return fmt.Errorf("provider: bounce to %q: %w", author, err)
	}
	u, err := signet.ParseUser(rec.Signet)
	if err != nil {
		return err
	}
	notice, err := json.Marshal(BounceNotice{
		Digest: e.MessageID.String(), Domain: e.Domain, Queued: e.Created.UTC(), Attempts: e.Attempts, Reason: cause.Error(),
	})
	if err != nil {
		return err
	}
	sealed, err := hpke.Seal(u.Enc, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(BounceInfo), notice)
	if err != nil {
		return fmt.Errorf("provider: seal bounce notice: %w", err)
	}
	_, err = p.st.Mailbox().Put(ctx, author, "bounce-"+e.MessageID.String(), KindBounce, 0, sealed)
	if errors.Is(err, store.ErrConflict) {
		return nil // already bounced (a retry after a crash)
	}
	if err == nil {
		p.watch.notify(author)
	}
	return err
}

// OpenBounce opens a bounce notice with the author's encryption key.
func OpenBounce(key hpke.PrivateKey, sealed []byte) (*BounceNotice, error) {
	plain, err := hpke.Open(key, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(BounceInfo), sealed)
	if err != nil {
		return nil, fmt.Errorf("provider: open bounce notice: %w", err)
	}
	var n BounceNotice
	if err := json.Unmarshal(plain, &n); err != nil {
		return nil, fmt.Errorf("provider: bounce notice: %w", err)
	}
	return &n, nil
}
