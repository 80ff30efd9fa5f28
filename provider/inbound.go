package provider

import (
	"context"
	"errors"
	"io"
	"time"

	"umbra/dmtp"
	"umbra/provider/store"
	"umbra/ratelimit"
	"umbra/signet"
)

// backend serves DMTP for the provider (DESIGN §6).
type backend struct{ p *Provider }

func (b backend) NewSession(c dmtp.ConnInfo) (dmtp.Session, error) {
	b.p.metrics.sessions.Inc()
	return &session{p: b.p, conn: c.Context, remote: c.RemoteAddr.String()}, nil
}

// session is one DMTP connection. Its methods run on the connection's
// goroutine, one at a time (dmtp.Session).
type session struct {
	p         *Provider
	conn      context.Context // the connection's lifetime (dmtp.ConnInfo)
	remote    string
	origin    string
	originOrg *remoteOrg
}

// sessionTimeout bounds the store and look-up work of one command.
const sessionTimeout = 2 * time.Minute

func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.conn, sessionTimeout)
}

func (s *session) Hello(domain string) error { return nil }

var (
	errOwnDomain    = &dmtp.Error{Code: 550, Enhanced: "5.7.1", Message: "mail from this domain does not arrive over DMTP"}
	errNotHere      = &dmtp.Error{Code: 550, Enhanced: "5.1.2", Message: "this server does not accept mail for that domain"}
	errNoSuchSignet = &dmtp.Error{Code: 550, Enhanced: "5.1.1", Message: "no such signet"}
	errOriginTemp   = &dmtp.Error{Code: 451, Enhanced: "4.4.3", Message: "cannot validate the origin organisation now; try again later"}
	errOriginBad    = &dmtp.Error{Code: 550, Enhanced: "5.7.0", Message: "the origin organisation's signet or DNS record is not valid"}
)

// Mail resolves and validates the origin organisation before the message
// is sent, so a sender with a broken record learns it without sending
// the body.
func (s *session) Mail(origin string, fp signet.Fingerprint) error {
	if origin == s.p.domain {
		return reason(errOwnDomain, "own-domain")
	}
	ctx, cancel := s.ctx()
	defer cancel()
	r, err := s.p.remotes.get(ctx, origin)
	if err != nil {
		s.p.log.Info("origin not validated", "origin", origin, "remote", s.remote, "err", err, ratelimit.ClientFault)
		var pe *permanentError
		if errors.As(err, &pe) {
			return reason(errOriginBad, "origin-invalid")
		}
		return reason(errOriginTemp, "origin-lookup")
	}
	s.origin, s.originOrg = origin, r
	return nil
}

func (s *session) Rcpt(dest string, fp signet.Fingerprint) error {
	if dest != s.p.domain {
		return reason(errNotHere, "wrong-domain")
	}
	if !fp.IsZero() && !fp.Equal(s.p.org.Signet.Fingerprint()) {
		s.p.log.Info("message sealed to an older organisation signet", "origin", s.origin, "fp", fp)
	}
	return nil
}

// Data streams the message through the destination's checks into the
// store (accept): memory per connection stays small whatever the size.
// Over the spool's budgets it answers 421 4.3.2 and the connection closes
// (docs/spec/dmtp.md §7): the sender's queue retries later. It answers
// 250 only after the store says the message is durable; a redelivery is
// acknowledged without a second copy.
func (s *session) Data(r io.Reader, size int64) error {
	start := s.p.cfg.Now()
	_, created, err := s.p.accept(s.conn, r, size, s.origin, s.originOrg.org.MessageKeys())
	s.p.countDelivery(err, created)
	if err != nil {
		return err
	}
	// The recipient is not logged: the log is on the provider's disk too.
	s.p.log.Info("delivered", "origin", s.origin, "size", size, "new", created, "took", time.Since(start))
	return nil
}

// errBusy answers a message the spool cannot hold now.
var errBusy = &dmtp.Error{Code: 421, Enhanced: "4.3.2", Message: "too many messages being received; try again later"}

func (s *session) Signet(name string, fp signet.Fingerprint) ([]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	if name == s.p.domain {
		org := s.p.org.Signet
		if !fp.IsZero() && !fp.Equal(org.Fingerprint()) {
			return nil, errNoSuchSignet
		}
		return org.Bytes(), nil
	}
	if signet.DomainOf(name) != s.p.domain {
		return nil, errNotHere
	}
	var rec store.SignetRecord
	var err error
	if fp.IsZero() {
		rec, err = s.p.st.Signets().Current(ctx, name)
	} else {
		rec, err = s.p.st.Signets().ByFingerprint(ctx, fp)
		if err == nil && rec.Address != name {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSuchSignet
	}
	if err != nil {
		return nil, err
	}
	return rec.Signet, nil
}

func (s *session) History(address string, start, stop signet.Fingerprint) ([][]byte, error) {
	if signet.DomainOf(address) != s.p.domain {
		return nil, errNotHere
	}
	ctx, cancel := s.ctx()
	defer cancel()
	recs, err := s.p.st.Signets().History(ctx, address, start, stop, dmtp.MaxHistory)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) || err == nil && len(recs) == 0 {
		return nil, errNoSuchSignet
	}
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r.Signet
	}
	return out, nil
}

func (s *session) Verify(name string, fp signet.Fingerprint) (bool, signet.Fingerprint, error) {
	if name == s.p.domain {
		cur := s.p.org.Signet.Fingerprint()
		return fp.Equal(cur), cur, nil
	}
	if signet.DomainOf(name) != s.p.domain {
		return false, signet.Fingerprint{}, errNotHere
	}
	ctx, cancel := s.ctx()
	defer cancel()
	rec, err := s.p.st.Signets().Current(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, signet.Fingerprint{}, errNoSuchSignet
	}
	if err != nil {
		return false, signet.Fingerprint{}, err
	}
	return !fp.IsZero() && fp.Equal(rec.Fingerprint), rec.Fingerprint, nil
}

func (s *session) Reset() { s.origin, s.originOrg = "", nil }

func (s *session) Close() error { return nil }
