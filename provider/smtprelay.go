package provider

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"umbra/dane"
	"umbra/mtasts"
	"umbra/provider/store"
)

// smtpTimeout bounds connecting to an exchanger, and each transaction.
const smtpTimeout = 5 * time.Minute

// relayLegacyDomain delivers the claimed legacy entries for one domain
// over SMTP (docs/spec/legacy.md §3.4), all over one connection as long
// as the exchanger keeps answering: a new TCP and TLS handshake per
// message cost more than the message.
func (p *Provider) relayLegacyDomain(ctx context.Context, owner, domain string, entries []store.QueueEntry) {
	var c *smtpConn
	defer func() {
		if c != nil {
			c.quit()
		}
	}()
	for _, e := range entries {
		if ctx.Err() != nil {
			return // shutting down: the claims are released at the next start
		}
		if !p.leaseHolds(e) {
			continue
		}
		le, err := p.queuedLegacyEntry(ctx, e)
		if errors.Is(err, store.ErrNotFound) {
			continue // completed or dropped since it was claimed
		}
		if err != nil {
			p.failed(ctx, owner, e, err)
			continue
		}
		if c == nil {
			if c, err = p.smtpConnect(ctx, domain); err != nil {
				p.failed(ctx, owner, e, err)
				continue
			}
		}
		if err := c.send(ctx, le); err != nil {
			// A failed transaction may leave the session in any state:
			// the next message starts on a fresh connection.
			c.close()
			c = nil
			p.failed(ctx, owner, e, err)
			continue
		}
		p.metrics.relays.WithLabelValues("delivered").Inc()
		p.log.Info("legacy mail relayed", "id", e.ID, "domain", e.Domain, "tls", c.tls)
		if err := p.st.Queue().Complete(ctx, e.ID, owner); err != nil {
			p.log.Error("queue complete", "id", e.ID, "err", err)
		}
	}
}

// smtpConn is an SMTP session with one exchanger.
type smtpConn struct {
	conn net.Conn
	c    *smtp.Client
	tls  string // "DANE", "MTA-STS", "opportunistic" or "none", for the log
}

// smtpConnect greets the first of domain's exchangers that answers, in
// order of preference (RFC 5321 §5.1: the domain itself when it has no
// MX record; none for a null MX, RFC 7505), or the smart host when one
// is set. TLS follows RFC 7672 where the exchanger publishes DNSSEC-signed
// TLSA records under a DNSSEC-signed MX: STARTTLS is then required and
// the certificate must match them. Else, under a domain's MTA-STS policy
// in enforce mode (RFC 8461), only the exchangers it lists are tried,
// STARTTLS is required and the certificate must be valid for the
// exchanger's name. Elsewhere STARTTLS is used whenever it is offered,
// opportunistically (RFC 7435), the certificate unchecked, as nothing
// published says it must be (docs/spec/legacy.md §3.4).
func (p *Provider) smtpConnect(ctx context.Context, domain string) (*smtpConn, error) {
	hosts, err := p.mailHosts(ctx, domain)
	if err != nil {
		return nil, err
	}
	var pol *mtasts.Policy
	if p.cfg.SmartHost == "" {
		if pol, err = p.sts.Policy(ctx, domain); err != nil {
			// No policy could be established: as if none (RFC 8461 §5.1).
			p.log.Info("MTA-STS policy not available", "domain", domain, "err", err)
		}
	}
	var errs []error
	for _, h := range hosts {
		if pol != nil && pol.Mode == mtasts.Enforce && !pol.Allows(h.name) {
			errs = append(errs, fmt.Errorf("%s: MTA-STS: the policy of %s does not list this exchanger", h.addr, domain))
			continue
		}
		c, err := p.smtpGreet(ctx, h, domain, pol)
		if err == nil {
			return c, nil
		}
		var pe *permanentError
		if errors.As(err, &pe) {
			return nil, err // the exchanger said no: the others would too
		}
		errs = append(errs, fmt.Errorf("%s: %w", h.addr, err))
	}
	return nil, errors.Join(errs...)
}

// mailHost is one exchanger to try.
type mailHost struct {
	name   string // its host name
	addr   string // host:port
	secure bool   // named by a DNSSEC-validated MX RRset: DANE applies
}

// mailHosts returns the exchangers to try, in order.
func (p *Provider) mailHosts(ctx context.Context, domain string) ([]mailHost, error) {
	if p.cfg.SmartHost != "" {
		name, _, _ := net.SplitHostPort(p.cfg.SmartHost)
		return []mailHost{{name: name, addr: p.cfg.SmartHost}}, nil
	}
	port := strconv.Itoa(p.cfg.RelayPort)
	ans, err := p.cfg.Resolver.LookupMX(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("MX look-up of %s: %w", domain, err)
	}
	if ans.NotFound {
		return []mailHost{{name: domain, addr: net.JoinHostPort(domain, port)}}, nil // implicit MX
	}
	mxs := ans.Hosts
	if len(mxs) == 1 && mxs[0].Mx == "." {
		return nil, &permanentError{fmt.Errorf("%s accepts no mail (null MX, RFC 7505)", domain)}
	}
	slices.SortStableFunc(mxs, func(a, b *dns.MX) int { return int(a.Preference) - int(b.Preference) })
	var hosts []mailHost
	for _, m := range mxs {
		name := strings.ToLower(strings.TrimSuffix(m.Mx, "."))
		hosts = append(hosts, mailHost{name: name, addr: net.JoinHostPort(name, port), secure: ans.Authenticated})
	}
	return hosts, nil
}

// daneRecords returns h's usable TLSA records when DANE applies to it
// (RFC 7672 §2.2), nil when it does not; an error when whether it does
// cannot be told (the host is then skipped, never tried in the clear).
func (p *Provider) daneRecords(ctx context.Context, h mailHost) ([]dane.TLSA, bool, error) {
	if !h.secure {
		return nil, false, nil
	}
	ans, err := p.cfg.Resolver.LookupTLSA(ctx, h.name, p.cfg.RelayPort)
	if err != nil {
		return nil, false, fmt.Errorf("DANE: TLSA look-up: %w", err)
	}
	if !ans.Authenticated || len(ans.Records) == 0 {
		return nil, false, nil
	}
	var out []dane.TLSA
	for _, r := range ans.Records {
		if t, err := dane.ParseHex(r.Usage, r.Selector, r.MatchingType, r.Certificate); err == nil {
			out = append(out, t)
		}
	}
	return out, true, nil
}

// smtpGreet connects to h and starts TLS as the rules of smtpConnect say:
// DANE where it applies, then an enforced MTA-STS policy (RFC 8461 §2:
// DANE takes precedence), then opportunistic.
func (p *Provider) smtpGreet(ctx context.Context, h mailHost, domain string, pol *mtasts.Policy) (*smtpConn, error) {
	records, useDANE, err := p.daneRecords(ctx, h)
	if err != nil {
		return nil, err
	}
	useSTS := !useDANE && pol != nil && pol.Mode == mtasts.Enforce
	d := net.Dialer{Resolver: p.relayResolver, Timeout: smtpTimeout}
	conn, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(smtpTimeout))
	c, err := smtp.NewClient(conn, h.name)
	if err != nil {
		conn.Close()
		return nil, smtpErr(err)
	}
	sc := &smtpConn{conn: conn, c: c, tls: "none"}
	if err := c.Hello(p.cfg.Hostname); err != nil {
		sc.close()
		return nil, smtpErr(err)
	}
	ok, _ := c.Extension("STARTTLS")
	if !ok && (useDANE || useSTS) {
		sc.close()
		return nil, errors.New("DANE or MTA-STS require TLS, and the exchanger offers no STARTTLS")
	}
	if ok {
		cfg := &tls.Config{ServerName: h.name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
		sc.tls = "opportunistic"
		if useSTS {
			// A certificate valid for the exchanger's name (RFC 8461 §4.2).
			sc.tls = "MTA-STS"
			cfg.InsecureSkipVerify = false
			cfg.RootCAs = p.cfg.RelayRootCAs
		}
		if useDANE {
			sc.tls = "DANE"
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				err := dane.Verify(cs.PeerCertificates, records, []string{h.name, domain}, time.Now())
				if errors.Is(err, dane.ErrNoUsable) {
					return nil // TLS required, nothing to authenticate with (RFC 7672 §2.2)
				}
				return err
			}
		}
		if err := c.StartTLS(cfg); err != nil {
			sc.close()
			return nil, fmt.Errorf("STARTTLS (%s): %w", sc.tls, err)
		}
	}
	return sc, nil
}

// send runs one transaction.
func (sc *smtpConn) send(ctx context.Context, le *legacyEntry) error {
	deadline := time.Now().Add(smtpTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = sc.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { sc.conn.Close() })
	defer stop()
	if err := sc.c.Mail(le.From); err != nil {
		return smtpErr(err)
	}
	if err := sc.c.Rcpt(le.To); err != nil {
		return smtpErr(err)
	}
	w, err := sc.c.Data()
	if err != nil {
		return smtpErr(err)
	}
	if _, err := w.Write(le.Message); err != nil {
		return smtpErr(err)
	}
	return smtpErr(w.Close())
}

func (sc *smtpConn) quit() {
	_ = sc.conn.SetDeadline(time.Now().Add(10 * time.Second))
	_ = sc.c.Quit()
	sc.close()
}

func (sc *smtpConn) close() { sc.conn.Close() }

// smtpErr marks a 5xx reply permanent (RFC 5321 §4.2.1); everything else
// is retried.
func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &permanentError{fmt.Errorf("%d %s", te.Code, te.Msg)}
	}
	return err
}
