package provider

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"umbra/connguard"
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
	// errBroken names a body cut short; dmtp answers it from what it saw
	// of the body (spec §7), so the sender may never read this one.
	errBroken = &dmtp.Error{Code: 451, Enhanced: "4.4.2", Message: "message body incomplete"}
)

// accept is the destination's half of delivery, shared by DMTP and local
// delivery. The message streams from r (size bytes) through dmime.Open as
// the destination, which opens the destination keyslot and verifies the
// origin signature under one of originKeys as the bytes go by, into a
// spool body (memory for a small message, an encrypted nameless file for
// a large one), so no message is held whole in memory. Then it checks
// that the message is for an active local account from the claimed
// origin, and stores it once with a received trace. ctx bounds the work
// after the message has arrived (sessionTimeout from then); reading r is
// bounded by its own deadlines. It returns the recipient and whether this
// delivery stored a new copy.
func (p *Provider) accept(ctx context.Context, r io.Reader, size int64, origin string, originKeys []ed25519.PublicKey) (string, bool, error) {
	body := p.spool.Body(size)
	defer body.Close()
	src := &readErr{r: r}
	opened, err := dmime.Open(io.TeeReader(src, body), dmime.RoleDestination, p.org.Enc, dmime.OpenOptions{OriginKeys: originKeys})
	switch {
	case src.err != nil:
		// The body was cut short or came too slowly: the sender's fault
		// or the network's, and dmtp answers it.
		return "", false, &refusal{reply: errBroken, reason: "broken", err: fmt.Errorf("provider: read DATA: %w", src.err)}
	case errors.Is(err, connguard.ErrBudget):
		p.log.Info("message refused: the spool is full", "size", size, "err", err, ratelimit.ClientFault)
		return "", false, reason(errBusy, "memory-budget")
	case errors.Is(err, dmime.ErrOriginSignature), errors.Is(err, dmime.ErrNoOriginSignature):
		return "", false, reason(errOriginSig, "origin-signature")
	case err != nil:
		p.log.Info("refused malformed message", "origin", origin, "err", err, ratelimit.ClientFault)
		return "", false, reason(errMalformed, "malformed")
	}
	ctx, cancel := context.WithTimeout(ctx, sessionTimeout)
	defer cancel()
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
	msg, err := body.Reader()
	if err != nil {
		return "", false, err
	}
	created, err := p.store(ctx, dest.Recipient, store.MessageID(opened.Layout.Digest), msg, opened.Layout)
	return dest.Recipient, created, err
}

// readErr remembers the error of the reader it wraps, so that a body cut
// short is told from a malformed one.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// store stores msg, a checked message with layout l for the local
// account rcpt whose digest is id, followed by a received trace, once,
// and wakes the account's long-polls. It reports whether this call stored
// a new copy.
func (p *Provider) store(ctx context.Context, rcpt string, id store.MessageID, msg io.Reader, l *dmime.Layout) (bool, error) {
	tr := dmime.Trace{Time: p.cfg.Now().UTC(), Kind: dmime.TraceReceived, Domain: p.domain}
	trace, err := dmime.TraceChunk(l, tr)
	if err != nil {
		return false, fmt.Errorf("provider: trace: %w", err)
	}
	data := io.MultiReader(msg, bytes.NewReader(trace))
	_, created, err := p.st.Mailbox().Deliver(ctx, rcpt, id, data, l.Size+int64(len(trace)), tr.Time)
	if err != nil {
		return false, err
	}
	if created {
		p.watch.notify(rcpt)
	}
	return created, nil
}

// storeSealed stores a message the provider sealed and signed itself
// (legacy mail, bounces).
func (p *Provider) storeSealed(ctx context.Context, m *sealedMail) error {
	r, err := m.body.Reader()
	if err != nil {
		return err
	}
	_, err = p.store(ctx, m.rcpt, m.id, r, m.layout)
	return err
}

// refusal is a reply to the peer with the reason it is counted under in
// the metrics.
type refusal struct {
	reply  *dmtp.Error
	reason string
	err    error // the cause, when there is more to it than the reply
}

func (r *refusal) Error() string {
	if r.err != nil {
		return r.err.Error()
	}
	return r.reply.Error()
}
func (r *refusal) Unwrap() []error {
	if r.err != nil {
		return []error{r.reply, r.err}
	}
	return []error{r.reply}
}

func reason(e *dmtp.Error, why string) error { return &refusal{reply: e, reason: why} }
