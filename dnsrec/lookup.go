package dnsrec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Errors of Lookup, told apart with errors.Is. A malformed record is a
// *ParseError instead (errors.As).
var (
	// ErrNoRecord: the name does not exist (NXDOMAIN) or holds no ver=1
	// TXT record (NODATA). Only this error lets a domain be legacy.
	ErrNoRecord = errors.New("no _dime record")
	// ErrAmbiguous: more than one ver=1 TXT record at the name. Which one
	// the domain meant cannot be known, so none is used.
	ErrAmbiguous = errors.New("more than one _dime record")
	// ErrTemporary: no usable answer (SERVFAIL, REFUSED, timeout, network
	// error). Retry later; never treat the domain as legacy meanwhile.
	ErrTemporary = errors.New("DNS look-up failed")
	// ErrBogus: the resolver said DNSSEC validation failed (SERVFAIL with
	// an RFC 8914 DNSSEC extended error). Someone may be forging answers;
	// hold the mail and tell the operator.
	ErrBogus = errors.New("DNSSEC validation failed at the resolver")
)

// DefaultTimeout bounds one DNS exchange when Resolver.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// ednsSize is the UDP payload size offered in queries: 1232 bytes avoids
// IP fragmentation (DNS flag day 2020); larger answers come over TCP.
const ednsSize = 1232

// Resolver looks up _dime records at one recursive resolver. Its fields
// are read-only once Lookup has been called; it is then safe for
// concurrent use.
type Resolver struct {
	// Server is the resolver's host:port. Empty means the first
	// nameserver listed in ResolvConf.
	Server string
	// ResolvConf is the resolv.conf(5) file read when Server is empty;
	// empty means /etc/resolv.conf.
	ResolvConf string
	// Timeout bounds each exchange (each UDP try, the TCP retry); zero
	// means DefaultTimeout. A deadline in the context also applies.
	Timeout time.Duration
}

// Answer is what the resolver said about _dime.<domain>.
type Answer struct {
	Domain string     // the domain, normalised
	Name   string     // the name asked, "_dime.<domain>."
	Server string     // the resolver asked, host:port
	TXT    [][]string // the ver=1 TXT records found, escapes removed
	Record *Record    // the parsed record; nil unless exactly one valid record was found
	// Authenticated is the AD bit of the answer: the resolver validated
	// it with DNSSEC. Trust it only from a resolver on this host or
	// reached over a trusted link (docs/spec/dns.md §5.4).
	Authenticated bool
}

// Lookup asks for the TXT records at _dime.<domain> (docs/spec/dns.md §5).
// On success the Answer holds the parsed record. Errors wrap ErrNoRecord,
// ErrAmbiguous, ErrTemporary or ErrBogus, or are a *ParseError for a
// malformed record. Whenever the resolver answered NOERROR or NXDOMAIN the
// Answer is returned too, even with an error, so that the caller can say
// what was found and whether it was authenticated.
func (r *Resolver) Lookup(ctx context.Context, domain string) (*Answer, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	server, err := r.server()
	if err != nil {
		return nil, err
	}
	ans := &Answer{Domain: d, Name: dimeLabel + "." + d + ".", Server: server}
	fail := func(kind error, detail any) (*Answer, error) {
		return nil, fmt.Errorf("dnsrec: %s at %s: %w: %v", ans.Name, server, kind, detail)
	}

	resp, err := r.exchange(ctx, ans.Name, dns.TypeTXT, server)
	if err != nil {
		return nil, fmt.Errorf("dnsrec: %s at %s: %w (%w)", ans.Name, server, ErrTemporary, err)
	}
	if q := resp.Question; len(q) != 1 || !strings.EqualFold(q[0].Name, ans.Name) || q[0].Qtype != dns.TypeTXT || q[0].Qclass != dns.ClassINET {
		return fail(ErrTemporary, "the resolver answered another question")
	}
	ans.Authenticated = resp.AuthenticatedData
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return ans, fmt.Errorf("dnsrec: %s at %s: %w (NXDOMAIN: the name does not exist)", ans.Name, server, ErrNoRecord)
	case dns.RcodeServerFailure:
		if code, ok := dnssecFailure(resp); ok {
			return fail(ErrBogus, fmt.Sprintf("SERVFAIL, extended error %d (%s)", code, dns.ExtendedErrorCodeToString[code]))
		}
		return fail(ErrTemporary, "SERVFAIL (the resolver could not answer; a validating resolver also says this when DNSSEC fails)")
	default:
		return fail(ErrTemporary, dns.RcodeToString[resp.Rcode])
	}

	for _, rr := range ownRecords(resp.Answer, ans.Name) {
		txt := make([]string, len(rr.Txt))
		for i, s := range rr.Txt {
			txt[i] = unescape(s)
		}
		if IsCandidate(txt) {
			ans.TXT = append(ans.TXT, txt)
		}
	}
	switch len(ans.TXT) {
	case 0:
		return ans, fmt.Errorf("dnsrec: %s at %s: %w (NODATA: the name has no TXT record starting with ver=1)", ans.Name, server, ErrNoRecord)
	case 1:
	default:
		return ans, fmt.Errorf("dnsrec: %s at %s: %w (%d records start with ver=1; publish exactly one)", ans.Name, server, ErrAmbiguous, len(ans.TXT))
	}
	rec, err := Parse(ans.TXT[0])
	if err != nil {
		return ans, fmt.Errorf("%w (in the record at %s)", err, ans.Name)
	}
	ans.Record = rec
	return ans, nil
}

func (r *Resolver) server() (string, error) {
	if r.Server != "" {
		if _, _, err := net.SplitHostPort(r.Server); err != nil {
			return "", fmt.Errorf("dnsrec: resolver %q is not host:port", r.Server)
		}
		return r.Server, nil
	}
	path := r.ResolvConf
	if path == "" {
		path = "/etc/resolv.conf"
	}
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return "", fmt.Errorf("dnsrec: no resolver given and %s unreadable: %w", path, err)
	}
	if len(cfg.Servers) == 0 {
		return "", fmt.Errorf("dnsrec: no resolver given and %s lists no nameserver", path)
	}
	return net.JoinHostPort(cfg.Servers[0], cfg.Port), nil
}

// exchange sends the query over UDP, twice if the first try gets no
// reply, then over TCP when the reply is truncated (RFC 7766 §5).
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16, server string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	// AD in the query asks for AD in the answer (RFC 6840 §5.7); DO
	// asks a validating resolver to validate (RFC 4035 §3.2.1).
	m.AuthenticatedData = true
	m.SetEdns0(ednsSize, true)

	timeout := r.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	udp := &dns.Client{Net: "udp", Timeout: timeout}
	var resp *dns.Msg
	var err error
	for try := 0; try < 2; try++ {
		resp, _, err = udp.ExchangeContext(ctx, m, server)
		var ne net.Error
		if err == nil || ctx.Err() != nil || !errors.As(err, &ne) || !ne.Timeout() {
			break
		}
	}
	if resp != nil && resp.Truncated {
		tcp := &dns.Client{Net: "tcp", Timeout: timeout}
		resp, _, err = tcp.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// dnssecExtendedErrors are the RFC 8914 §4 codes that say DNSSEC
// validation, not the network or the server, caused a SERVFAIL.
var dnssecExtendedErrors = []uint16{
	dns.ExtendedErrorCodeUnsupportedDNSKEYAlgorithm,
	dns.ExtendedErrorCodeUnsupportedDSDigestType,
	dns.ExtendedErrorCodeDNSSECIndeterminate,
	dns.ExtendedErrorCodeDNSBogus,
	dns.ExtendedErrorCodeSignatureExpired,
	dns.ExtendedErrorCodeSignatureNotYetValid,
	dns.ExtendedErrorCodeDNSKEYMissing,
	dns.ExtendedErrorCodeRRSIGsMissing,
	dns.ExtendedErrorCodeNoZoneKeyBitSet,
	dns.ExtendedErrorCodeNSECMissing,
	dns.ExtendedErrorCodeSignatureExpiredBeforeValid,
}

func dnssecFailure(resp *dns.Msg) (uint16, bool) {
	opt := resp.IsEdns0()
	if opt == nil {
		return 0, false
	}
	for _, o := range opt.Option {
		if ede, ok := o.(*dns.EDNS0_EDE); ok && slices.Contains(dnssecExtendedErrors, ede.InfoCode) {
			return ede.InfoCode, true
		}
	}
	return 0, false
}

// ownRecords returns the TXT records in an answer section that belong to
// name, following the CNAME chain a recursive resolver includes
// (RFC 1034 §4.3.2); records at other names are ignored.
func ownRecords(answer []dns.RR, name string) []*dns.TXT {
	names := map[string]bool{strings.ToLower(name): true}
	for grew := true; grew; {
		grew = false
		for _, rr := range answer {
			if c, ok := rr.(*dns.CNAME); ok && names[strings.ToLower(c.Hdr.Name)] && !names[strings.ToLower(c.Target)] {
				names[strings.ToLower(c.Target)] = true
				grew = true
			}
		}
	}
	var out []*dns.TXT
	for _, rr := range answer {
		if t, ok := rr.(*dns.TXT); ok && names[strings.ToLower(t.Hdr.Name)] {
			out = append(out, t)
		}
	}
	return out
}

// unescape turns a character-string as miekg/dns presents it (\" \\ and
// \DDD for unprintable bytes, RFC 1035 §5.1) back into its raw bytes, so
// Parse judges what was published, not its presentation.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// NetResolver returns a net.Resolver that sends every query to r's server
// (the same one the _dime look-ups ask), for the look-ups of other
// records: SPF, DKIM and DMARC at the MX, MX and TLSA for the relay.
func (r *Resolver) NetResolver() (*net.Resolver, error) {
	server, err := r.server()
	if err != nil {
		return nil, err
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		},
	}, nil
}
