package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/emersion/go-smtp"

	"umbra/dmime"
	"umbra/mx"
	"umbra/provider/store"
	"umbra/signet"
	"umbra/spool"
)

// mxBackend is the provider's side of the legacy MX (docs/spec/legacy.md
// §2): it knows the accounts and seals what the MX received before
// anything of it reaches the store.
type mxBackend struct{ p *Provider }

var (
	errRelayDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "this server accepts mail only for its own domain"}
	errNoMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "no such mailbox here"}
	errBadAddress = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3},
		Message: "not a valid mailbox address"}
)

// account returns the canonical active account address is for, or the
// reply that refuses it.
func (b mxBackend) account(ctx context.Context, address string) (string, error) {
	local, domain, ok := strings.Cut(address, "@")
	if !ok {
		return "", errBadAddress
	}
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	if domain != b.p.domain {
		return "", errRelayDenied
	}
	for _, l := range []string{local, strings.ToLower(local)} {
		a := l + "@" + domain
		if signet.CheckAddress(a) != nil {
			return "", errBadAddress
		}
		acct, err := b.p.st.Accounts().Get(ctx, a)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return "", err
		case acct.State != store.StateActive:
			return "", errNoMailbox
		}
		return a, nil
	}
	return "", errNoMailbox
}

func (b mxBackend) Recipient(ctx context.Context, address string) error {
	_, err := b.account(ctx, address)
	if err != nil {
		b.p.metrics.legacyIn.WithLabelValues("refused-recipient").Inc()
	}
	return err
}

// Deliver seals msg for each recipient, as it streams from the MX's
// spool into the provider's (memory, or a file encrypted under a key only
// this process holds), and only then stores the sealed copies: a failure
// to seal any of them stores nothing and the sender is told to try again
// (fail closed; LEAP's MX stored plaintext when encryption failed).
func (b mxBackend) Deliver(ctx context.Context, env *mx.Envelope, rcpts []string, msg *io.SectionReader) error {
	p := b.p
	sealed := make([]*sealedMail, 0, len(rcpts))
	defer func() {
		for _, s := range sealed {
			s.body.Close()
		}
	}()
	for _, r := range rcpts {
		a, err := b.account(ctx, r)
		if err != nil {
			return err // disabled since RCPT
		}
		s, err := p.sealLegacy(ctx, a, io.NewSectionReader(msg, 0, msg.Size()), msg.Size())
		if err != nil {
			p.metrics.legacyIn.WithLabelValues("seal-failed").Inc()
			return fmt.Errorf("provider: seal legacy mail: %w", err)
		}
		sealed = append(sealed, s)
	}
	for _, s := range sealed {
		if err := p.storeSealed(ctx, s); err != nil {
			return err
		}
	}
	p.metrics.legacyIn.WithLabelValues("delivered").Add(float64(len(sealed)))
	return nil
}

// sealedMail is a message the provider sealed itself for a local
// account, held in the spool until it is stored: its own seal needs no
// checking on the way into the store. Close body when done.
type sealedMail struct {
	rcpt   string
	id     store.MessageID
	body   *spool.Body
	layout *dmime.Layout
}

// sealLegacy seals a legacy message of size bytes to rcpt's current
// signet as D/MIME (docs/spec/legacy.md §2.2). The provider's MX is its
// author: the author signature is the organisation's message key, and the
// author keyslot is sealed to the recipient's key too, so that no one,
// the provider included, can open the message later as its author: only
// the recipient can read it. (A key pair made per message and forgotten
// did the same at a tenth more CPU per message.) The message streams
// through the seal and the origin signature into a spool body, so memory
// stays bounded whatever its size.
func (p *Provider) sealLegacy(ctx context.Context, rcpt string, msg io.Reader, size int64) (*sealedMail, error) {
	if p.sealHook != nil {
		if err := p.sealHook(rcpt); err != nil {
			return nil, err
		}
	}
	rec, err := p.st.Signets().Current(ctx, rcpt)
	if err != nil {
		return nil, fmt.Errorf("signet of the recipient: %w", err)
	}
	u, err := signet.ParseUser(rec.Signet)
	if err != nil {
		return nil, err
	}
	org := p.org.Signet
	self := dmime.Party{Address: p.domain, Fingerprint: org.Fingerprint(), Enc: org.Enc}
	params := dmime.SealParams{
		Author:      dmime.Party{Address: p.domain, Fingerprint: org.Fingerprint(), Enc: u.Enc},
		AuthorKey:   p.org.SOK,
		Origin:      self,
		Destination: self,
		Recipient:   dmime.Party{Address: rcpt, Fingerprint: u.Fingerprint(), Enc: u.Enc},
	}
	// Padding adds at most 12% (dmime.md §9.3), the framing far less.
	body := p.spool.Body(size + size/4 + 64<<10)
	pr, pw := io.Pipe()
	sealed := make(chan error, 1)
	go func() {
		_, err := dmime.Seal(pw, msg, params)
		pw.CloseWithError(err)
		sealed <- err
	}()
	err = dmime.SignOrigin(body, pr, p.org.SOK)
	pr.CloseWithError(errors.New("provider: sealing stopped")) // ends Seal if SignOrigin stopped first
	if serr := <-sealed; serr != nil {
		err = serr
	}
	var lay *dmime.Layout
	if err == nil {
		var r io.Reader
		if r, err = body.Reader(); err == nil {
			lay, err = dmime.Inspect(r)
		}
	}
	if err != nil {
		body.Close()
		return nil, err
	}
	return &sealedMail{rcpt: rcpt, id: store.MessageID(lay.Digest), body: body, layout: lay}, nil
}

// startMX listens for legacy SMTP unless MXListen is "off".
func (p *Provider) startMX() error {
	ln := p.cfg.MXListener
	if ln == nil && p.cfg.MXListen == "off" {
		return nil
	}
	// The bridge verifies the MX's author signature with the first
	// message key of the organisation signet (docs/spec/legacy.md §2.2).
	if keys := p.org.Signet.MessageKeys(); !keys[0].Equal(p.org.SOK.Public()) {
		return errors.New("provider: the MX signs legacy mail with sok.key, which must be the first message-signing SOK of org.signet")
	}
	srv, err := mx.New(mx.Config{
		Hostname:       p.cfg.Hostname,
		AuthServID:     p.domain,
		TLSConfig:      p.tls,
		MaxMessageSize: p.cfg.MXMaxMessageSize,
		Spool:          p.spool,
		Resolver:       p.relayResolver,
		Backend:        mxBackend{p},
		Logger:         p.log,
		Now:            p.cfg.Now,
	})
	if err != nil {
		return err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", p.cfg.MXListen); err != nil {
			return fmt.Errorf("provider: MX listen: %w", err)
		}
	}
	p.mxSrv, p.mxAddr = srv, ln.Addr()
	p.wg.Go(func() {
		if err := srv.Serve(ln); err != nil {
			p.log.Error("MX stopped", "err", err)
		}
	})
	return nil
}
