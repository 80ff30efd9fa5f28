package bridge

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"umbra/signet"
)

// mxKey is the author key of a message the bridge's own provider sealed
// on arrival from the legacy world (docs/spec/legacy.md §2.2): the author
// is the provider's domain, named with its organisation signet, and the
// signature is by the signet's first message key. Any other domain as
// author is refused: a provider speaks only for mail it received itself.
func (b *Bridge) mxKey(ctx context.Context, domain string, fp signet.Fingerprint) (ed25519.PublicKey, error) {
	own := signet.DomainOf(b.address)
	if domain != own {
		return nil, &permanentError{fmt.Errorf("a message authored by the domain %s, not by this account's provider %s", domain, own)}
	}
	org, _, err := b.dir.Org(ctx, domain)
	if err != nil {
		return nil, err
	}
	if !fp.Equal(org.Fingerprint()) {
		return nil, &permanentError{fmt.Errorf("legacy mail sealed under another organisation signet of %s", domain)}
	}
	return org.MessageKeys()[0], nil
}

// verdictProvider is the verdict of a notice the provider wrote itself.
const verdictProvider = "local; notice from your provider %s"

// legacyVerdict is the Umbra-Security value of legacy mail: what the
// provider's MX saw on arrival, read from the Received and
// Authentication-Results fields it put on top of the message (they are
// under its signature; fields further down came from elsewhere and are
// not read). It says plainly that the content was not end-to-end
// encrypted in transit.
func legacyVerdict(mime []byte, domain string) string {
	top := topFields(mime, 2)
	if len(top) == 0 || !strings.HasPrefix(strings.ToLower(top[0]), "received:") {
		// Written by the provider itself (a delivery status notice): the
		// MX puts its Received field on top of everything it received.
		return fmt.Sprintf(verdictProvider, domain)
	}
	tls, results := "unknown", "auth=unknown"
	for i, f := range top {
		name, value, _ := strings.Cut(f, ":")
		switch {
		case i == 0 && strings.EqualFold(name, "Received"):
			tls = "none"
			if _, after, ok := strings.Cut(value, "(using "); ok {
				tls, _, _ = strings.Cut(after, ")")
			}
		case i == 1 && strings.EqualFold(name, "Authentication-Results"):
			id, res, err := authres.Parse(strings.TrimSpace(value))
			if err != nil || !strings.EqualFold(id, domain) {
				continue
			}
			results = summarise(res)
		}
	}
	return fmt.Sprintf("legacy; not end-to-end encrypted; via=%s; tls=%s; %s", domain, tls, results)
}

// summarise spells SPF, DKIM and DMARC results as "spf=pass dkim=pass
// (example.org) dmarc=pass".
func summarise(res []authres.Result) string {
	var parts []string
	for _, r := range res {
		switch r := r.(type) {
		case *authres.SPFResult:
			parts = append(parts, "spf="+string(r.Value))
		case *authres.DKIMResult:
			p := "dkim=" + string(r.Value)
			if r.Domain != "" {
				p += " (" + r.Domain + ")"
			}
			parts = append(parts, p)
		case *authres.DMARCResult:
			parts = append(parts, "dmarc="+string(r.Value))
		}
	}
	return strings.Join(parts, " ")
}

// topFields returns the first n unfolded header fields of mime.
func topFields(mime []byte, n int) []string {
	var out []string
	for len(mime) > 0 {
		i := bytes.IndexByte(mime, '\n') + 1
		if i == 0 {
			i = len(mime)
		}
		line := strings.TrimRight(string(mime[:i]), "\r\n")
		mime = mime[i:]
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) > 0 {
				out[len(out)-1] += " " + strings.TrimSpace(line)
			}
			continue
		}
		if len(out) == n {
			break
		}
		out = append(out, line)
	}
	return out
}
