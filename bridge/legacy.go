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

// trace is what the provider's MX recorded on top of legacy mail it
// received: the Received and Authentication-Results fields it put there
// (they are under its signature; fields further down came from elsewhere
// and are not read).
type trace struct {
	domain  string
	tls     string
	results []authres.Result // nil when the MX's results are missing
}

// readTrace reads msg's trace; ok is false for mail the provider wrote
// itself (a delivery status notice): the MX puts its Received field on top
// of everything it received.
func readTrace(msg []byte, domain string) (tr trace, ok bool) {
	top := topFields(msg, 2)
	if len(top) == 0 || !strings.HasPrefix(strings.ToLower(top[0]), "received:") {
		return trace{}, false
	}
	tr = trace{domain: domain, tls: "unknown"}
	for i, f := range top {
		name, value, _ := strings.Cut(f, ":")
		switch {
		case i == 0 && strings.EqualFold(name, "Received"):
			tr.tls = "none"
			if _, after, ok := strings.Cut(value, "(using "); ok {
				tr.tls, _, _ = strings.Cut(after, ")")
				// The MX writes a name such as TLS1.3 or TLS(0x0302)
				// (mx.tlsName); anything else, a CR say, must not reach
				// the Umbra-Security field it is shown in.
				if tr.tls == "" || strings.ContainsFunc(tr.tls, func(r rune) bool {
					return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(".()-_", r))
				}) {
					tr.tls = "unknown"
				}
			}
		case i == 1 && strings.EqualFold(name, "Authentication-Results"):
			id, res, err := authres.Parse(strings.TrimSpace(value))
			if err != nil || !strings.EqualFold(id, domain) {
				continue
			}
			tr.results = res
		}
	}
	return tr, true
}

// authenticates reports whether the MX's results tie the message to
// from's domain: DMARC passed, or a DKIM signature of that domain or SPF
// for a MAIL FROM in it passed, and DMARC did not fail (RFC 7489 §3.1
// alignment, relaxed to the exact domain here).
func (tr trace) authenticates(from string) bool {
	d := signet.DomainOf(from)
	ok := false
	for _, r := range tr.results {
		switch r := r.(type) {
		case *authres.DMARCResult:
			if r.Value == authres.ResultFail {
				return false
			}
			ok = ok || r.Value == authres.ResultPass && strings.EqualFold(r.From, d)
		case *authres.DKIMResult:
			ok = ok || r.Value == authres.ResultPass && strings.EqualFold(r.Domain, d)
		case *authres.SPFResult:
			ok = ok || r.Value == authres.ResultPass && strings.EqualFold(signet.DomainOf(r.From), d)
		}
	}
	return ok
}

// legacyVerdict is the Umbra-Security value of legacy mail: what the
// provider's MX saw on arrival and, for OpenPGP mail, openpgp (pgpVerdict,
// or "unreadable"). It says plainly when the content was not end-to-end
// encrypted in transit.
func legacyVerdict(tr trace, openpgp string) string {
	results := "auth=unknown"
	if tr.results != nil {
		results = summarise(tr.results)
	}
	var what string
	switch {
	case openpgp == "":
		what = "not end-to-end encrypted"
	case strings.HasPrefix(openpgp, "encrypted,") || openpgp == "unreadable":
		what = "openpgp=" + openpgp
	default:
		what = "not end-to-end encrypted; openpgp=" + openpgp
	}
	return fmt.Sprintf("legacy; %s; via=%s; tls=%s; %s", what, tr.domain, tr.tls, results)
}

// traceFields returns the raw lines (continuations included) of msg's
// first two header fields when they are the MX's trace (readTrace), to
// keep on top of a message that replaces msg once opened.
func traceFields(msg []byte) []byte {
	end, fields := 0, 0
	for end < len(msg) {
		n := bytes.IndexByte(msg[end:], '\n') + 1
		if n == 0 {
			n = len(msg) - end
		}
		line := msg[end : end+n]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		if line[0] != ' ' && line[0] != '\t' {
			name, _, _ := bytes.Cut(line, []byte(":"))
			if fields == 2 || !isTraceField(string(name)) {
				break
			}
			fields++
		}
		end += n
	}
	return bytes.Clone(msg[:end])
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

func isTraceField(name string) bool {
	return strings.EqualFold(name, "Received") || strings.EqualFold(name, "Authentication-Results")
}
