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
		le, err := p.openLegacyEntry(e.Message)
		if err != nil {
			p.failed(ctx, owner, e, &permanentError{err})
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
		p.log.Info("legacy mail relayed", "id", e.ID, "domain", e.Domain)
		if err := p.st.Queue().Complete(ctx, e.ID, owner); err != nil {
			p.log.Error("queue complete", "id", e.ID, "err", err)
		}
	}
}

// smtpConn is an SMTP session with one exchanger.
type smtpConn struct {
	conn net.Conn
	c    *smtp.Client
}

// smtpConnect greets the first of domain's exchangers that answers, in
// order of preference (RFC 5321 §5.1: the domain itself when it has no
// MX record; none for a null MX, RFC 7505), or the smart host when one
// is set, with STARTTLS whenever it is offered: opportunistic (RFC 7435),
// the certificate unchecked, as nothing published says it must be
// (MTA-STS and DANE are not implemented yet, docs/spec/legacy.md §3.4).
func (p *Provider) smtpConnect(ctx context.Context, domain string) (*smtpConn, error) {
	hosts, err := p.mailHosts(ctx, domain)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, h := range hosts {
		c, err := p.smtpGreet(ctx, h)
		if err == nil {
			return c, nil
		}
		var pe *permanentError
		if errors.As(err, &pe) {
			return nil, err // the exchanger said no: the others would too
		}
		errs = append(errs, fmt.Errorf("%s: %w", h, err))
	}
	return nil, errors.Join(errs...)
}

// mailHosts returns host:port of each exchanger to try.
func (p *Provider) mailHosts(ctx context.Context, domain string) ([]string, error) {
	if p.cfg.SmartHost != "" {
		return []string{p.cfg.SmartHost}, nil
	}
	port := strconv.Itoa(p.cfg.RelayPort)
	mxs, err := p.relayResolver.LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound && len(mxs) == 0:
		return []string{net.JoinHostPort(domain, port)}, nil // implicit MX
	case err != nil && len(mxs) == 0:
		return nil, fmt.Errorf("MX look-up of %s: %w", domain, err)
	}
	if len(mxs) == 1 && mxs[0].Host == "." {
		return nil, &permanentError{fmt.Errorf("%s accepts no mail (null MX, RFC 7505)", domain)}
	}
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	var hosts []string
	for _, m := range mxs {
		hosts = append(hosts, net.JoinHostPort(strings.TrimSuffix(m.Host, "."), port))
	}
	return hosts, nil
}

func (p *Provider) smtpGreet(ctx context.Context, host string) (*smtpConn, error) {
	d := net.Dialer{Resolver: p.relayResolver, Timeout: smtpTimeout}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(smtpTimeout))
	name, _, _ := net.SplitHostPort(host)
	c, err := smtp.NewClient(conn, name)
	if err != nil {
		conn.Close()
		return nil, smtpErr(err)
	}
	sc := &smtpConn{conn: conn, c: c}
	if err := c.Hello(p.cfg.Hostname); err != nil {
		sc.close()
		return nil, smtpErr(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}); err != nil {
			sc.close()
			return nil, smtpErr(err)
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
