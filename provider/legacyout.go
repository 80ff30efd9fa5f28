package provider

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"

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
	out.Queue, _, err = p.st.Queue().Enqueue(ctx, store.Outbound{MessageID: out.Digest, Domain: domain, Message: bytes.NewReader(blob), Size: int64(len(blob)), BounceTo: []byte(account)})
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

// isLegacyQueued reports whether the claimed entry e is legacy mail,
// reading only the start of its message from the queue.
func (p *Provider) isLegacyQueued(ctx context.Context, e store.QueueEntry) (bool, error) {
	r, err := p.st.Queue().Open(ctx, e.ID)
	if err != nil {
		return false, err
	}
	magic := make([]byte, len(legacyMagic))
	n, err := r.ReadAt(magic, 0)
	if err != nil && err != io.EOF {
		return false, err
	}
	return isLegacyEntry(magic[:n]), nil
}

// queuedLegacyEntry returns the claimed entry e opened if it is legacy
// mail, nil if it is not. It reads a legacy entry from the queue whole,
// as it must to open it: legacy messages are bounded by
// mx_max_message_size. An entry that cannot be opened is a
// permanentError; a failure to read it is not.
func (p *Provider) queuedLegacyEntry(ctx context.Context, e store.QueueEntry) (*legacyEntry, error) {
	if legacy, err := p.isLegacyQueued(ctx, e); err != nil || !legacy {
		return nil, err
	}
	r, err := p.st.Queue().Open(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	blob := make([]byte, e.Size)
	if n, err := r.ReadAt(blob, 0); n < len(blob) {
		return nil, err
	}
	le, err := p.openLegacyEntry(blob)
	if err != nil {
		return nil, &permanentError{err}
	}
	return le, nil
}
