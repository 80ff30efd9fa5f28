package provider

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"umbra/dmime"
	"umbra/dmtp"
	"umbra/provider/store"
	"umbra/ratelimit"
	"umbra/signet"
)

// Replies for refused messages (docs/spec/dmtp.md §6). They name what is
// wrong without echoing anything of the message.
var (
	errOriginSig    = &dmtp.Error{Code: 554, Enhanced: "5.7.1", Message: "origin signature missing or invalid"}
	errMalformed    = &dmtp.Error{Code: 554, Enhanced: "5.6.0", Message: "not a valid D/MIME message"}
	errNotOurs      = &dmtp.Error{Code: 554, Enhanced: "5.1.2", Message: "the destination chunk names another domain"}
	errOriginDiffer = &dmtp.Error{Code: 554, Enhanced: "5.7.1", Message: "the destination chunk names another origin domain"}
	errUnknownUser  = &dmtp.Error{Code: 550, Enhanced: "5.1.1", Message: "no such active account"}
	errStaleKey     = &dmtp.Error{Code: 550, Enhanced: "5.7.0", Message: "sealed to a signet that is not the recipient's"}
)

// accept is the destination's half of delivery, shared by DMTP and local
// delivery: open the destination keyslot (which verifies the origin
// signature under one of originKeys first), check the message is for an
// active local account from the claimed origin, append a received trace
// and store it once. It returns the recipient and whether this delivery
// stored a new copy.
func (p *Provider) accept(ctx context.Context, msg []byte, origin string, originKeys []ed25519.PublicKey) (string, bool, error) {
	opened, err := dmime.Open(bytes.NewReader(msg), dmime.RoleDestination, p.org.Enc, dmime.OpenOptions{OriginKeys: originKeys})
	switch {
	case errors.Is(err, dmime.ErrOriginSignature), errors.Is(err, dmime.ErrNoOriginSignature):
		return "", false, reason(errOriginSig, "origin-signature")
	case err != nil:
		p.log.Info("refused malformed message", "origin", origin, "err", err, ratelimit.ClientFault)
		return "", false, reason(errMalformed, "malformed")
	}
	dest, err := opened.Destination()
	if err != nil {
		return "", false, err
	}
	if dest.OriginDomain != origin {
		return "", false, reason(errOriginDiffer, "origin-mismatch")
	}
	if signet.DomainOf(dest.Recipient) != p.domain {
		return "", false, reason(errNotOurs, "wrong-domain")
	}
	acct, err := p.st.Accounts().Get(ctx, dest.Recipient)
	if errors.Is(err, store.ErrNotFound) || err == nil && acct.State != store.StateActive {
		return "", false, reason(errUnknownUser, "unknown-recipient")
	} else if err != nil {
		return "", false, err
	}
	rec, err := p.st.Signets().ByFingerprint(ctx, dest.RecipientFingerprint)
	if errors.Is(err, store.ErrNotFound) || err == nil && rec.Address != dest.Recipient {
		return "", false, reason(errStaleKey, "unknown-recipient-key")
	} else if err != nil {
		return "", false, err
	}
	created, err := p.store(ctx, dest.Recipient, store.MessageID(opened.Layout.Digest), msg)
	return dest.Recipient, created, err
}

// store appends a received trace to msg, a message for the local account
// rcpt whose digest is id, stores it once and wakes the account's
// long-polls. It reports whether this call stored a new copy.
func (p *Provider) store(ctx context.Context, rcpt string, id store.MessageID, msg []byte) (bool, error) {
	// In place when msg has room (readMessage leaves it): no second copy.
	tr := dmime.Trace{Time: p.cfg.Now().UTC(), Kind: dmime.TraceReceived, Domain: p.domain}
	traced, err := dmime.AppendTraceBytes(msg, tr)
	if err != nil {
		return false, fmt.Errorf("provider: append trace: %w", err)
	}
	_, created, err := p.st.Mailbox().Deliver(ctx, rcpt, id, bytes.NewReader(traced), int64(len(traced)), tr.Time)
	if err != nil {
		return false, err
	}
	if created {
		p.watch.notify(rcpt)
	}
	return created, nil
}

// refusal is a reply to the peer with the reason it is counted under in
// the metrics.
type refusal struct {
	reply  *dmtp.Error
	reason string
}

func (r *refusal) Error() string { return r.reply.Error() }
func (r *refusal) Unwrap() error { return r.reply }

func reason(e *dmtp.Error, why string) error { return &refusal{reply: e, reason: why} }
