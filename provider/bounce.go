package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"
	"time"

	"umbra/provider/store"
)

// bounce tells the author, in the inbox, that a queued message could not
// be delivered: a delivery status notification (RFC 3464) that reaches
// the author as mail, sealed to the author's signet the way legacy mail
// is (docs/spec/legacy.md §4), so it needs nothing new on the bridge. For
// dark mail the provider knows only the recipient's domain and the
// message's digest; for legacy mail it knows the recipient and the
// header, and says them.
func (p *Provider) bounce(ctx context.Context, e store.QueueEntry, cause error) error {
	author := string(e.BounceTo)
	n := notice{domain: e.Domain, digest: e.MessageID.String(), queued: e.Created.UTC(), attempts: e.Attempts, reason: cause.Error()}
	le, err := p.queuedLegacyEntry(ctx, e)
	if err != nil {
		return err
	}
	if le != nil {
		n.rcpt = le.To
		if i := bytes.Index(le.Message, []byte("\r\n\r\n")); i >= 0 {
			n.header = le.Message[:i+2]
		}
	}
	mime := n.mime(p.domain, author, p.cfg.Now())
	sealed, err := p.sealLegacy(ctx, author, bytes.NewReader(mime), int64(len(mime)))
	if err != nil {
		return fmt.Errorf("provider: bounce to %q: %w", author, err)
	}
	defer sealed.body.Close()
	return p.storeSealed(ctx, sealed)
}

// notice is what a bounce says.
type notice struct {
	domain, rcpt, digest, reason string
	queued                       time.Time
	attempts                     int
	header                       []byte // the original header, legacy mail only
}

// mime is the DSN: multipart/report with a text part for people, the
// message/delivery-status part (RFC 3464 §2) and, for legacy mail, the
// original header (text/rfc822-headers).
func (n *notice) mime(domain, author string, now time.Time) []byte {
	var rb [12]byte
	_, _ = rand.Read(rb[:])
	boundary := "umbra-dsn-" + hex.EncodeToString(rb[:])
	who := n.rcpt
	if who == "" {
		who = "a recipient at " + n.domain
	}
	subject := ""
	if s := headerField(n.header, "Subject"); s != "" {
		if dec, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
			subject = " " + dec
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Mail Delivery System <postmaster@%s>\r\nTo: <%s>\r\n", domain, author)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "Undeliverable:"+subject))
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s.dsn@%s>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n", now.Format(time.RFC1123Z), hex.EncodeToString(rb[:]), domain)
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=delivery-status; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", boundary)
	fmt.Fprintf(&b, "Your message to %s could not be delivered after %d attempts since %s.\r\n\r\nReason: %s\r\n",
		who, n.attempts, n.queued.Format(time.RFC1123Z), oneLine(n.reason))
	if n.rcpt == "" {
		fmt.Fprintf(&b, "\r\nYour provider cannot read sealed mail, so it knows only the recipient's domain.\r\nThe message's digest is %s.\r\n", n.digest)
	}
	fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary)
	fmt.Fprintf(&b, "Reporting-MTA: dns; %s\r\nArrival-Date: %s\r\n\r\n", domain, n.queued.Format(time.RFC1123Z))
	if n.rcpt != "" {
		fmt.Fprintf(&b, "Final-Recipient: rfc822; %s\r\n", n.rcpt)
	} else {
		// RFC 3464 §2.3.2 wants the recipient; the domain is all the
		// provider has.
		fmt.Fprintf(&b, "Final-Recipient: x-umbra-domain; %s\r\n", n.domain)
	}
	fmt.Fprintf(&b, "Action: failed\r\nStatus: %s\r\nDiagnostic-Code: x-umbra; %s\r\n", statusOf(n.reason), oneLine(n.reason))
	if len(n.header) > 0 {
		fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary)
		b.Write(n.header)
	}
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes()
}

// statusOf takes the enhanced status code (RFC 3463) from a reply in
// reason, or says 5.0.0.
func statusOf(reason string) string {
	for _, f := range strings.Fields(reason) {
		var c, s, d int
		if n, _ := fmt.Sscanf(f, "%d.%d.%d", &c, &s, &d); n == 3 && (c == 4 || c == 5) {
			return fmt.Sprintf("5.%d.%d", s, d)
		}
	}
	return "5.0.0"
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 900 {
		s = s[:900]
	}
	return s
}

// headerField returns the unfolded value of the first field name in a
// header section, or "".
func headerField(header []byte, name string) string {
	lines := strings.Split(string(header), "\r\n")
	for i, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) || l[0] == ' ' || l[0] == '\t' {
			continue
		}
		for _, c := range lines[i+1:] {
			if c == "" || c[0] != ' ' && c[0] != '\t' {
				break
			}
			v += " " + strings.TrimSpace(c)
		}
		return strings.TrimSpace(v)
	}
	return ""
}
