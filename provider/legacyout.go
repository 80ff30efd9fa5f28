package provider

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"umbra/dnsrec"
	"umbra/provider/store"
	"umbra/signet"
)

// Errors of SubmitLegacy that the caller (DMAP legacy) reports to the user.
var (
	// ErrDarkDomain: the recipient's domain publishes a _dime record (or
	// is this provider's): the message must be sealed, never sent plain.
	ErrDarkDomain = errors.New("provider: the recipient's domain is an Umbra domain; seal the message")
	// ErrDowngrade: the domain was seen with a _dime record that has
	// since vanished within its promise (docs/spec/dns.md §6): mail to it
	// is held, never sent in the clear.
	ErrDowngrade = errors.New("provider: the recipient's domain published a _dime record that has vanished; not sending in the clear")
	// ErrNotFromAccount: the From field names someone else; the relay
	// signs with the domain's DKIM key and will not lend it.
	ErrNotFromAccount = errors.New("provider: the From field must be the sending account's address alone")
	// ErrDNSTemporary: the recipient's domain could not be classified now.
	ErrDNSTemporary = errors.New("provider: the recipient's domain could not be looked up now")
)

// legacyMagic starts a queue entry of legacy mail; D/MIME messages start
// with their own magic, so the relay tells the two apart by it.
const legacyMagic = "UMBRA-LEGACY-QUEUE-1\n"

// legacyQueueInfo is the HPKE info of a sealed legacy queue entry.
const legacyQueueInfo = "umbra legacy queue entry v1"

// legacyEntry is the content of a legacy queue entry, sealed at rest to
// the organisation's encryption key (docs/spec/legacy.md §3.3).
type legacyEntry struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Message []byte `json:"message"` // DKIM-signed, as it is to be sent
}

// SubmitLegacy is the origin's half of legacy sending (docs/spec/legacy.md
// §3): account hands over one plain RFC 5322 message for rcpt, outside
// Umbra. The provider checks that rcpt's domain is a legacy one and that
// the message is from account, signs it with DKIM and queues it sealed to
// its own key. It returns once the entry is durable; a repeated
// submission of the same message is queued once.
func (p *Provider) SubmitLegacy(ctx context.Context, account, rcpt string, msg []byte) (Submitted, error) {
	acct, err := p.st.Accounts().Get(ctx, account)
	if err != nil || acct.State != store.StateActive {
		return Submitted{}, fmt.Errorf("%w: %s", ErrNotActive, account)
	}
	if err := signet.CheckAddress(rcpt); err != nil {
		return Submitted{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	domain := signet.DomainOf(rcpt)
	if domain == p.domain {
		return Submitted{}, ErrDarkDomain
	}
	res, err := p.dns.Check(ctx, domain)
	switch {
	case res != nil && res.Status == dnsrec.Dark:
		return Submitted{}, ErrDarkDomain
	case res != nil && res.Status == dnsrec.Downgrade:
		return Submitted{}, ErrDowngrade
	case res == nil || res.Status != dnsrec.Legacy:
		return Submitted{}, fmt.Errorf("%w: %v", ErrDNSTemporary, err)
	}
	if err := checkFrom(msg, account); err != nil {
		return Submitted{}, err
	}
	signed, err := p.dkimSign(msg)
	if err != nil {
		return Submitted{}, err
	}
	blob, err := p.sealLegacyEntry(legacyEntry{From: account, To: rcpt, Message: signed})
	if err != nil {
		return Submitted{}, err
	}
	// The same message for the same recipient is one entry: a bridge
	// that resends after a lost answer queues nothing twice.
	id := sha256.Sum256(slices.Concat([]byte(rcpt), []byte{0}, msg))
	out := Submitted{Digest: store.MessageID(id)}
	out.Queue, _, err = p.st.Queue().Enqueue(ctx, store.Outbound{MessageID: out.Digest, Domain: domain, Message: blob, BounceTo: []byte(account)})
	if err != nil {
		return Submitted{}, err
	}
	p.log.Info("legacy mail queued", "id", out.Queue, "domain", domain, "size", len(msg))
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return out, nil
}

// checkFrom requires exactly one From address, account's.
func checkFrom(msg []byte, account string) error {
	m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(msg)))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	list, err := m.Header.AddressList("From")
	if err != nil || len(list) != 1 || !strings.EqualFold(list[0].Address, account) {
		return ErrNotFromAccount
	}
	return nil
}

func (p *Provider) sealLegacyEntry(e legacyEntry) ([]byte, error) {
	plain, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	ct, err := hpke.Seal(p.org.Signet.Enc, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(legacyQueueInfo), plain)
	if err != nil {
		return nil, fmt.Errorf("provider: seal queue entry: %w", err)
	}
	return append([]byte(legacyMagic), ct...), nil
}

func (p *Provider) openLegacyEntry(blob []byte) (*legacyEntry, error) {
	ct, ok := bytes.CutPrefix(blob, []byte(legacyMagic))
	if !ok {
		return nil, errors.New("provider: not a legacy queue entry")
	}
	plain, err := hpke.Open(p.org.Enc, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(legacyQueueInfo), ct)
	if err != nil {
		return nil, fmt.Errorf("provider: open queue entry: %w", err)
	}
	var e legacyEntry
	if err := json.Unmarshal(plain, &e); err != nil {
		return nil, fmt.Errorf("provider: queue entry: %w", err)
	}
	return &e, nil
}

func isLegacyEntry(msg []byte) bool { return bytes.HasPrefix(msg, []byte(legacyMagic)) }

// relayLegacy delivers one legacy queue entry over SMTP.
func (p *Provider) relayLegacy(ctx context.Context, owner string, e store.QueueEntry) {
	le, err := p.openLegacyEntry(e.Message)
	if err == nil {
		err = p.smtpDeliver(ctx, le)
	}
	if err != nil {
		p.failed(ctx, owner, e, err)
		return
	}
	p.metrics.relays.WithLabelValues("delivered").Inc()
	p.log.Info("legacy mail relayed", "id", e.ID, "domain", e.Domain)
	if err := p.st.Queue().Complete(ctx, e.ID, owner); err != nil {
		p.log.Error("queue complete", "id", e.ID, "err", err)
	}
}

// smtpTimeout bounds one SMTP transaction of the relay.
const smtpTimeout = 5 * time.Minute

// smtpDeliver tries the recipient domain's mail exchangers in order of
// preference (RFC 5321 §5.1; the domain itself when it has no MX; none
// for a null MX, RFC 7505), or the smart host when one is set.
func (p *Provider) smtpDeliver(ctx context.Context, le *legacyEntry) error {
	hosts, err := p.mailHosts(ctx, signet.DomainOf(le.To))
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hosts {
		err := p.smtpSend(ctx, h, le)
		if err == nil {
			return nil
		}
		var pe *permanentError
		if errors.As(err, &pe) {
			return err // the exchanger said no: the others would too
		}
		errs = append(errs, fmt.Errorf("%s: %w", h, err))
	}
	return errors.Join(errs...)
}

// mailHosts returns host:port of each exchanger to try.
func (p *Provider) mailHosts(ctx context.Context, domain string) ([]string, error) {
	port := strconv.Itoa(p.cfg.RelayPort)
	if p.cfg.SmartHost != "" {
		return []string{p.cfg.SmartHost}, nil
	}
	mxs, err := p.relayResolver.LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound && len(mxs) == 0:
		return []string{net.JoinHostPort(domain, port)}, nil // implicit MX, RFC 5321 §5.1
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

// smtpSend runs one SMTP transaction with host, with STARTTLS whenever the
// server offers it (opportunistic, RFC 7435: the certificate is not
// checked, since nothing published says it must be; MTA-STS and DANE are
// not implemented yet, docs/spec/legacy.md §3.4).
func (p *Provider) smtpSend(ctx context.Context, host string, le *legacyEntry) error {
	ctx, cancel := context.WithTimeout(ctx, smtpTimeout)
	defer cancel()
	d := net.Dialer{Resolver: p.relayResolver}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	name, _, _ := net.SplitHostPort(host)
	c, err := smtp.NewClient(conn, name)
	if err != nil {
		conn.Close()
		return smtpErr(err)
	}
	defer c.Close()
	if err := c.Hello(p.cfg.Hostname); err != nil {
		return smtpErr(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}); err != nil {
			return smtpErr(err)
		}
	}
	if err := c.Mail(le.From); err != nil {
		return smtpErr(err)
	}
	if err := c.Rcpt(le.To); err != nil {
		return smtpErr(err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr(err)
	}
	if _, err := w.Write(le.Message); err != nil {
		return smtpErr(err)
	}
	if err := w.Close(); err != nil {
		return smtpErr(err)
	}
	return smtpErr(c.Quit())
}

// smtpErr marks a 5xx reply permanent (RFC 5321 §4.2.1); everything else
// is retried.
func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &permanentError{fmt.Errorf("%d %s", te.Code, te.Msg)}
	}
	return err
}
