package mx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// Auth is the outcome of the sender checks on one message: what the
// Authentication-Results field says (RFC 8601 §2.7 result values).
type Auth struct {
	SPF       authres.ResultValue
	SPFDomain string // the domain SPF checked: of MAIL FROM, or of HELO when MAIL FROM is null
	DKIM      []DKIMResult
	DMARC     authres.ResultValue
	From      string // the RFC5322.From domain DMARC was evaluated for
}

// DKIMResult is one signature's verdict.
type DKIMResult struct {
	Value  authres.ResultValue
	Domain string // d=
	Reason string
}

// maxDKIMSignatures bounds the signatures verified per message; each is a
// DNS look-up and a public-key operation a stranger can ask for.
const maxDKIMSignatures = 5

// authTimeout bounds the DNS work of the checks of one message.
const authTimeout = 20 * time.Second

// checker evaluates SPF, DKIM and DMARC with one resolver.
type checker struct {
	res *net.Resolver
}

// check evaluates a message received from ip, which said helo and
// mailFrom (empty for the null reverse-path); header is the message's
// header section, msg the whole message.
func (c checker) check(ctx context.Context, ip netip.Addr, helo, mailFrom string, header []byte, msg io.Reader) Auth {
	ctx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	var a Auth
	a.SPF, a.SPFDomain = c.spf(ctx, ip, helo, mailFrom)
	a.DKIM = c.dkim(ctx, msg)
	a.From = fromDomain(header)
	a.DMARC = c.dmarc(ctx, &a)
	return a
}

// spf runs check_host (RFC 7208 §4) for MAIL FROM, or for the HELO
// identity when the reverse-path is null (§2.4).
func (c checker) spf(ctx context.Context, ip netip.Addr, helo, mailFrom string) (authres.ResultValue, string) {
	domain := helo
	if _, d, ok := strings.Cut(mailFrom, "@"); ok {
		domain = d
	}
	sender := mailFrom
	if sender == "" {
		sender = "postmaster@" + helo
	}
	res, _ := spf.CheckHostWithSender(net.IP(ip.AsSlice()), helo, sender,
		spf.WithContext(ctx), spf.WithResolver(c.res))
	// The spf package's results are RFC 7208 §2.6's names, as RFC 8601
	// §2.7.2 spells them.
	domain = strings.ToLower(domain)
	if !isDomain(domain) {
		domain = ""
	}
	return authres.ResultValue(res), domain
}

// dkim verifies at most maxDKIMSignatures signatures (RFC 6376 §6).
func (c checker) dkim(ctx context.Context, msg io.Reader) []DKIMResult {
	vs, err := dkim.VerifyWithOptions(msg, &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return c.res.LookupTXT(ctx, name) },
		MaxVerifications: maxDKIMSignatures,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		return []DKIMResult{{Value: authres.ResultPermError, Reason: "unparsable message"}}
	}
	if len(vs) == 0 {
		return []DKIMResult{{Value: authres.ResultNone}}
	}
	out := make([]DKIMResult, 0, len(vs))
	for _, v := range vs {
		r := DKIMResult{Value: authres.ResultPass, Domain: strings.ToLower(v.Domain)}
		if !isDomain(r.Domain) {
			r.Domain = ""
		}
		switch {
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			r.Value, r.Reason = authres.ResultTempError, v.Err.Error()
		case dkim.IsPermFail(v.Err):
			r.Value, r.Reason = authres.ResultPermError, v.Err.Error()
		default:
			r.Value, r.Reason = authres.ResultFail, v.Err.Error()
		}
		out = append(out, r)
	}
	return out
}

// dmarc evaluates the policy of the From domain (RFC 7489 §3.1, §6.6.2):
// pass when SPF or DKIM passed for an aligned domain. The policy itself
// is not enforced here: the message is sealed for the user either way and
// the verdict travels with it.
func (c checker) dmarc(ctx context.Context, a *Auth) authres.ResultValue {
	if a.From == "" {
		return authres.ResultPermError // no single From domain (§6.6.1)
	}
	lookup := func(name string) ([]string, error) { return c.res.LookupTXT(ctx, name) }
	rec, err := dmarc.LookupWithOptions(a.From, &dmarc.LookupOptions{LookupTXT: lookup})
	if errors.Is(err, dmarc.ErrNoPolicy) {
		org := orgDomain(a.From)
		if org == a.From {
			return authres.ResultNone
		}
		if rec, err = dmarc.LookupWithOptions(org, &dmarc.LookupOptions{LookupTXT: lookup}); errors.Is(err, dmarc.ErrNoPolicy) {
			return authres.ResultNone
		}
	}
	if err != nil {
		if dmarc.IsTempFail(err) {
			return authres.ResultTempError
		}
		return authres.ResultPermError
	}
	if a.SPF == authres.ResultPass && aligned(a.SPFDomain, a.From, rec.SPFAlignment) {
		return authres.ResultPass
	}
	for _, d := range a.DKIM {
		if d.Value == authres.ResultPass && aligned(d.Domain, a.From, rec.DKIMAlignment) {
			return authres.ResultPass
		}
	}
	return authres.ResultFail
}

// aligned is identifier alignment (RFC 7489 §3.1): the same domain when
// strict, the same organisational domain when relaxed (the default).
func aligned(d, from string, mode dmarc.AlignmentMode) bool {
	if mode == dmarc.AlignmentStrict {
		return d == from
	}
	return d != "" && orgDomain(d) == orgDomain(from)
}

// orgDomain is the organisational domain (RFC 7489 §3.2) by the public
// suffix list.
func orgDomain(d string) string {
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}

// fromDomain is the domain of the single RFC5322.From address, or "" if
// there is not exactly one From field with one address.
func fromDomain(header []byte) string {
	var from string
	n := 0
	for _, f := range fields(header) {
		if !strings.EqualFold(f.name, "From") {
			continue
		}
		n++
		from = f.value
	}
	if n != 1 {
		return ""
	}
	addr := from
	if i := strings.LastIndexByte(from, '<'); i >= 0 {
		addr, _, _ = strings.Cut(from[i+1:], ">")
	} else if strings.Contains(from, ",") {
		return "" // several addresses
	}
	_, d, ok := strings.Cut(strings.TrimSpace(addr), "@")
	if !ok {
		return ""
	}
	d = strings.ToLower(strings.TrimRight(strings.TrimSpace(d), "."))
	if !isDomain(d) {
		return ""
	}
	return d
}

// isDomain accepts what may stand as a domain in a DNS query and an
// Authentication-Results value: no space, control character or
// punctuation of the header grammar (RFC 8601 §2.2, RFC 5322 §3.2.3).
func isDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, r := range d {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("<>()[];:,\"\\@", r) {
			return false
		}
	}
	return true
}

// field is one unfolded header field.
type field struct{ name, value string }

// fields splits a header section into unfolded fields (RFC 5322 §2.2).
func fields(header []byte) []field {
	var out []field
	for _, line := range bytes.SplitAfter(header, []byte("\n")) {
		l := strings.TrimRight(string(line), "\r\n")
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(out) > 0 {
			out[len(out)-1].value += " " + strings.TrimSpace(l)
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		out = append(out, field{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	return out
}

// header formats the Authentication-Results field (RFC 8601 §2.2) for
// authserv-id id, folded, with CRLF.
func (a *Auth) header(id, helo, mailFrom string) string {
	res := []authres.Result{&authres.SPFResult{Value: a.SPF, From: mailFrom, Helo: helo}}
	for _, d := range a.DKIM {
		res = append(res, &authres.DKIMResult{Value: d.Value, Domain: d.Domain, Reason: sanitize(d.Reason)})
	}
	res = append(res, &authres.DMARCResult{Value: a.DMARC, From: a.From})
	return "Authentication-Results: " + authres.Format(id, res) + "\r\n"
}
