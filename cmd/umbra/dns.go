package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"umbra/dnsrec"
	"umbra/ratelimit"
	"umbra/wiretrace"
)

func init() {
	register(verb{
		words:    "dns record",
		synopsis: "--domain D --pok KEY --dx HOST:PORT",
		help: `print the _dime TXT record to publish for a domain

Builds the record from the flags, checks it exactly as clients will, and
prints it as a zone-file line for _dime.D, split into strings of at most
255 bytes, with a comment saying what it promises. --pok and --sok may be
given several times (an old and a new key during rotation). Keys and the
TLS pin are standard base64 with = padding, as the base64 tool writes them.
See docs/spec/dns.md for every field.`,
		run: runDNSRecord,
	})
	register(verb{
		words:    "dns check",
		synopsis: "DOMAIN",
		help: `look up a domain's _dime record and say what is right and wrong with it

Asks the resolver (--dns, or the first nameserver of /etc/resolv.conf) for
the TXT record at _dime.DOMAIN, checks every field, and reports whether the
answer was DNSSEC-validated. With --cache FILE, the policy cache in FILE is
consulted and updated: a domain seen dark before whose record is now missing
is reported as a downgrade, which senders must treat as an attack. Exit
status 1 when the record is missing, invalid or cannot be looked up.`,
		run: runDNSCheck,
	})
}

// dnsFlag declares --dns on fs. Every verb that resolves names calls it,
// then dnsResolver on the value.
func dnsFlag(fs *flag.FlagSet) *string {
	return fs.String("dns", "", "DNS resolver to ask, `host[:port]` (default: the first nameserver in /etc/resolv.conf); trust its DNSSEC verdict only if it runs on this host or over a trusted link")
}

// logLevelFlag declares --log-level on fs, for the verbs that run a
// server; logLevel reads its value.
func logLevelFlag(fs *flag.FlagSet) *string {
	return fs.String("log-level", "info", "least severe log level shown: trace, debug, info, warn or error; "+
		"trace adds each connection's protocol lines, without passwords, tokens or mail (wiretrace)")
}

// logLevel parses a --log-level value; a bad one is a usage error.
func logLevel(s string) (slog.Level, error) {
	if strings.EqualFold(s, "trace") {
		return wiretrace.LevelTrace, nil
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(s)); err != nil {
		return 0, usageErrorf("--log-level %q: want trace, debug, info, warn or error", s)
	}
	return lvl, nil
}

// newLogger is the logger of a verb that runs a server: text on w from
// lvl up, with the records of client faults rate-limited per message
// (ratelimit.LogHandler), since strangers can cause them. Trace records
// are marked TRACE.
func newLogger(w io.Writer, lvl slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.LevelKey && a.Value.Any() == wiretrace.LevelTrace {
			a.Value = slog.StringValue("TRACE")
		}
		return a
	}}
	return slog.New(ratelimit.NewLogHandler(slog.NewTextHandler(w, opts), ratelimit.Limit{}, nil))
}

// dnsResolver builds the resolver a --dns value names; a host without a
// port means port 53. A bad value is a usage error.
func dnsResolver(server string) (*dnsrec.Resolver, error) {
	if server == "" {
		return &dnsrec.Resolver{}, nil
	}
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(server, "["), "]"), "53"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, usageErrorf("--dns %q: port must be a number from 1 to 65535", server)
	}
	if host == "" || strings.ContainsAny(host, " \t[]/") {
		return nil, usageErrorf("--dns %q is not host[:port]", server)
	}
	return &dnsrec.Resolver{Server: net.JoinHostPort(host, port)}, nil
}

// zoneLine is the record as one zone-file line (RFC 1035 §5.1). Record
// text never contains " or \, so the strings need no escaping.
func zoneLine(domain string, rec *dnsrec.Record) string {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	var b strings.Builder
	fmt.Fprintf(&b, "_dime.%s. IN TXT", d)
	for _, s := range rec.TXT() {
		fmt.Fprintf(&b, " \"%s\"", s)
	}
	return b.String()
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func runDNSRecord(c *cmd) error {
	domain := c.flags.String("domain", "", "the domain the record is for (required)")
	var poks, soks listFlag
	c.flags.Var(&poks, "pok", "primary organisation key, base64 Ed25519 public key (required; repeat for rotation)")
	c.flags.Var(&soks, "sok", "secondary organisation key, base64 Ed25519 public key (repeatable)")
	dx := c.flags.String("dx", "", "DMTP endpoint host:port (required; DMTP's port is 26)")
	dmap := c.flags.String("dmap", "", "DMAP base URL, https://host/path")
	tlsPin := c.flags.String("tls", "", "TLS pin: base64 SHA-256 of the server certificate's public key (SubjectPublicKeyInfo)")
	tlsCert := c.flags.String("tls-cert", "", "PEM certificate to compute the --tls pin from")
	fp := c.flags.String("fp", "", "organisation signet fingerprint (43-character form)")
	pol := c.flags.String("pol", "strict", "policy: experimental, mixed or strict")
	exp := c.flags.Int("exp", 30, "days senders keep the policy after they last saw the record (1-365)")
	sub := c.flags.String("sub", "explicit", "subdomains: explicit, relaxed or strict")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	if *domain == "" || len(poks) == 0 || *dx == "" {
		return usageErrorf("--domain, --pok and --dx are required")
	}
	d, err := dnsrec.NormalizeDomain(*domain)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if *tlsCert != "" {
		if *tlsPin != "" {
			return usageErrorf("give --tls or --tls-cert, not both")
		}
		pin, err := certPin(*tlsCert)
		if err != nil {
			return err
		}
		*tlsPin = b64(pin)
	}

	// Assemble the record text and parse it: the checks and the error
	// messages are exactly those every client applies.
	fields := []string{"ver=1"}
	add := func(key, val string) error {
		if strings.ContainsAny(val, " \t") {
			return usageErrorf("--%s %q: values contain no spaces", key, val)
		}
		fields = append(fields, key+"="+val)
		return nil
	}
	for _, k := range poks {
		if err := add("pok", k); err != nil {
			return err
		}
	}
	for _, k := range soks {
		if err := add("sok", k); err != nil {
			return err
		}
	}
	for _, kv := range [][2]string{{"dx", *dx}, {"dmap", *dmap}, {"tls", *tlsPin}, {"fp", *fp}, {"pol", *pol}, {"exp", strconv.Itoa(*exp)}, {"sub", *sub}} {
		if kv[1] == "" {
			continue
		}
		if err := add(kv[0], kv[1]); err != nil {
			return err
		}
	}
	rec, err := dnsrec.Parse(dnsrec.SplitTXT(strings.Join(fields, " ")))
	if err != nil {
		return usageErrorf("%v", err)
	}
	fmt.Fprintln(c.stdout, zoneLine(d, rec))
	fmt.Fprintf(c.stdout, "; publish at _dime.%s and sign the zone with DNSSEC. Policy %s. Senders keep a mixed or strict policy for %d days after they last saw the record, so removing it takes that long to take effect.\n",
		d, policyWords[rec.Policy], rec.ExpDays)
	return nil
}

var policyWords = map[dnsrec.Policy]string{
	dnsrec.PolicyExperimental: "experimental, senders may fall back to legacy email and a vanished record is no alarm",
	dnsrec.PolicyMixed:        "mixed, the domain takes dark and legacy email but senders that can must send dark",
	dnsrec.PolicyStrict:       "strict, the domain takes dark email only and refuses legacy email",
}

var subWords = map[dnsrec.Subdomain]string{
	dnsrec.SubExplicit: "each subdomain stands alone (the default)",
	dnsrec.SubRelaxed:  "subdomains without a record of their own are covered by this one",
	dnsrec.SubStrict:   "every subdomain must publish its own record; one without is treated as an attack",
}

func runDNSCheck(c *cmd) error {
	dnsServer := dnsFlag(c.flags)
	cachePath := c.flags.String("cache", "", "policy cache file to consult and update (as senders keep it)")
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	res, err := dnsResolver(*dnsServer)
	if err != nil {
		return err
	}
	domain, err := dnsrec.NormalizeDomain(args[0])
	if err != nil {
		return usageErrorf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var result *dnsrec.Result
	var ans *dnsrec.Answer
	var lerr error
	if *cachePath != "" {
		cache, err := dnsrec.OpenCache(*cachePath, res)
		if err != nil {
			return err
		}
		result, lerr = cache.Check(ctx, domain)
		if result != nil {
			ans = result.Answer
		}
	} else {
		ans, lerr = res.Lookup(ctx, domain)
	}

	w := c.stdout
	if ans != nil {
		fmt.Fprintf(w, "asked    %s for %s\n", ans.Server, ans.Name)
		reportDNSSEC(w, ans)
	}
	var pe *dnsrec.ParseError
	switch {
	case ans != nil && ans.Record != nil:
		reportRecord(w, ans.Record)
	case result != nil && result.Status == dnsrec.Downgrade:
		s := result.Cached
		fmt.Fprintf(w, "record   MISSING, and this is a DOWNGRADE: %s was seen dark (%s) on %s, and that policy is in force until %s. Treat it as an attack: mail is held, never sent in the clear.\n",
			domain, s.Policy, when(s.LastSeen), when(s.Until))
		return fmt.Errorf("no _dime record for %s, but its dark policy is in force until %s: downgrade", domain, when(s.Until))
	case lerr == nil || errors.Is(lerr, dnsrec.ErrNoRecord):
		fmt.Fprintf(w, "record   missing: %s has no _dime record, so senders treat it as a legacy domain\n", domain)
		return fmt.Errorf("no _dime record for %s", domain)
	case errors.As(lerr, &pe):
		fmt.Fprintf(w, "record   INVALID: field %s: %s\n", pe.Field, pe.Reason)
		fmt.Fprintf(w, "         published: %q\n", ans.TXT[0])
		fmt.Fprintf(w, "         Clients refuse the whole record and hold mail; fix it.\n")
	case errors.Is(lerr, dnsrec.ErrAmbiguous):
		fmt.Fprintf(w, "record   AMBIGUOUS: %d TXT records start with ver=1; publish exactly one:\n", len(ans.TXT))
		for _, t := range ans.TXT {
			fmt.Fprintf(w, "         %q\n", t)
		}
	case errors.Is(lerr, dnsrec.ErrBogus):
		fmt.Fprintf(w, "DNSSEC   FAILED: the resolver could not validate the answer. Someone may be forging it, or the zone's signatures are broken (expired, wrong DS). Senders hold mail.\n")
	case errors.Is(lerr, dnsrec.ErrTemporary):
		fmt.Fprintf(w, "look-up  FAILED: no usable answer. This is not an absence: senders hold mail and retry, never falling back to legacy email.\n")
	}
	if result != nil && result.Cached != nil {
		s := result.Cached
		fmt.Fprintf(w, "cache    dark policy %s in force until %s (last seen %s)\n", s.Policy, when(s.Until), when(s.LastSeen))
	}
	if lerr != nil {
		return lerr
	}
	fmt.Fprintf(w, "verdict  OK: %s publishes a valid record\n", domain)
	return nil
}

// when formats a cache time for operators.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

func reportDNSSEC(w io.Writer, ans *dnsrec.Answer) {
	if ans.Authenticated {
		fmt.Fprintf(w, "DNSSEC   yes: the resolver validated the answer (AD bit set); believe it if the resolver is on this host or a trusted link\n")
		return
	}
	fmt.Fprintf(w, "DNSSEC   no: the answer is not validated (AD bit clear); anyone on the path could forge or hide it. Sign the zone, and use a validating resolver.\n")
}

func reportRecord(w io.Writer, r *dnsrec.Record) {
	fmt.Fprintf(w, "record   found and valid:\n")
	for _, s := range r.TXT() {
		fmt.Fprintf(w, "         %q\n", s)
	}
	for i, k := range r.POKs {
		fmt.Fprintf(w, "pok %-4d %s\n", i+1, b64(k))
	}
	for i, k := range r.SOKs {
		fmt.Fprintf(w, "sok %-4d %s\n", i+1, b64(k))
	}
	fmt.Fprintf(w, "dx       %s (DMTP, provider to provider)\n", r.DX)
	if r.DMAP != "" {
		fmt.Fprintf(w, "dmap     %s (DMAP, users to their provider)\n", r.DMAP)
	} else {
		fmt.Fprintf(w, "dmap     not given: users' bridges must be told the DMAP URL by hand\n")
	}
	if r.TLSPin != nil {
		fmt.Fprintf(w, "tls      %s (pin of the server certificate's public key)\n", b64(r.TLSPin))
	} else {
		fmt.Fprintf(w, "tls      no pin: the server's certificate must chain to a public CA\n")
	}
	if !r.Fingerprint.IsZero() {
		fmt.Fprintf(w, "fp       %s (organisation signet; read aloud: %s)\n", r.Fingerprint, r.Fingerprint.Human())
	} else {
		fmt.Fprintf(w, "fp       not given: the organisation signet fetched over DMTP cannot be checked against DNS\n")
	}
	fmt.Fprintf(w, "policy   %s\n", policyWords[r.Policy])
	fmt.Fprintf(w, "exp      %d days\n", r.ExpDays)
	fmt.Fprintf(w, "sub      %s: %s\n", r.Subdomain, subWords[r.Subdomain])
}
