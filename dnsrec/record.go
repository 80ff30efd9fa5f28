package dnsrec

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"umbra/signet"
)

// Limits of docs/spec/dns.md §3. They bound the work a hostile record can
// cause and catch copy-paste accidents early.
const (
	MaxRecordLen = 4096 // bytes of the whole record after concatenation
	MaxStringLen = 255  // bytes of one TXT character-string (RFC 1035 §3.3)
	MaxPOKs      = 8    // pok= keys: rotation needs two or three
	MaxSOKs      = 16   // sok= keys
	MinExpDays   = 1
	MaxExpDays   = 365
	maxDMAPLen   = 512 // bytes of the dmap= URL
	maxKeyLen    = 32  // bytes of a key name, known or not
)

// Version is the only record version this package reads and writes.
const Version = 1

// Policy is the pol= field: how far the domain has gone dark
// (docs/spec/dns.md §4.7).
type Policy int

const (
	// PolicyExperimental: the domain is trying dark mail. Senders use DMTP
	// when they can and may fall back to legacy SMTP; the policy is not
	// cached, so a vanished record is no attack.
	PolicyExperimental Policy = iota + 1
	// PolicyMixed: the domain takes dark and legacy mail; a sender that
	// speaks DMTP must use it and never fall back while the policy is in force.
	PolicyMixed
	// PolicyStrict: the domain takes dark mail only and refuses legacy mail.
	PolicyStrict
)

var policyNames = map[Policy]string{
	PolicyExperimental: "experimental",
	PolicyMixed:        "mixed",
	PolicyStrict:       "strict",
}

func (p Policy) String() string {
	if s, ok := policyNames[p]; ok {
		return s
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// Dark reports whether the policy is cached and defended against
// downgrade: mixed and strict are, experimental is not.
func (p Policy) Dark() bool { return p == PolicyMixed || p == PolicyStrict }

// ParsePolicy reads a pol= value (lowercase, as in the record).
func ParsePolicy(s string) (Policy, error) {
	for p, name := range policyNames {
		if s == name {
			return p, nil
		}
	}
	return 0, fieldErrorf("pol", "%q is not one of experimental, mixed, strict (lowercase)", clip(s))
}

// Subdomain is the sub= field: what the record says about subdomains that
// publish no _dime record of their own (docs/spec/dns.md §4.9).
type Subdomain int

const (
	// SubExplicit (the default): subdomains stand alone; one without its
	// own record is not covered by this one.
	SubExplicit Subdomain = iota
	// SubRelaxed: a subdomain without its own record is served by this one.
	SubRelaxed
	// SubStrict: every subdomain that takes mail publishes its own record;
	// one without is treated as a downgrade, never as legacy.
	SubStrict
)

var subNames = map[Subdomain]string{
	SubExplicit: "explicit",
	SubRelaxed:  "relaxed",
	SubStrict:   "strict",
}

func (s Subdomain) String() string {
	if n, ok := subNames[s]; ok {
		return n
	}
	return "Subdomain(" + strconv.Itoa(int(s)) + ")"
}

// ParseSubdomain reads a sub= value (lowercase, as in the record).
func ParseSubdomain(s string) (Subdomain, error) {
	for v, name := range subNames {
		if s == name {
			return v, nil
		}
	}
	return 0, fieldErrorf("sub", "%q is not one of strict, relaxed, explicit (lowercase)", clip(s))
}

// Record is one parsed _dime record. Parse fills it from TXT strings; TXT
// and String write it back in canonical form.
type Record struct {
	Version     int                 // always 1
	POKs        []ed25519.PublicKey // primary organisation keys, in record order; at least one
	SOKs        []ed25519.PublicKey // secondary organisation keys, in record order
	DX          string              // DMTP endpoint, canonical host:port
	DMAP        string              // DMAP base URL (https), "" if absent
	TLSPin      []byte              // SHA-256 of the TLS certificate's SubjectPublicKeyInfo, nil if absent
	Fingerprint signet.Fingerprint  // organisation signet fingerprint, zero if absent
	Policy      Policy
	ExpDays     int // days the policy stays in force after the record was last seen
	Subdomain   Subdomain
}

// Expiry is ExpDays as a duration.
func (r *Record) Expiry() time.Duration { return time.Duration(r.ExpDays) * 24 * time.Hour }

// CertificatePin returns the tls= pin of a certificate: SHA-256 of its
// DER SubjectPublicKeyInfo, as RFC 7469 §2.4 pins keys (a pin survives
// certificate renewal with the same key).
func CertificatePin(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return sum[:]
}

// b64 is the encoding of pok=, sok= and tls=: standard alphabet, padded
// (RFC 4648 §4), as RFC 7469 writes pins and the base64 tool writes keys.
var b64 = base64.StdEncoding

// String is the canonical single-line form (docs/spec/dns.md §3.2): keys in
// the order ver pok sok dx dmap tls fp pol exp sub, single spaces, optional
// fields only when set, sub= only when not the default.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("ver=")
	b.WriteString(strconv.Itoa(r.Version))
	for _, k := range r.POKs {
		b.WriteString(" pok=")
		b.WriteString(b64.EncodeToString(k))
	}
	for _, k := range r.SOKs {
		b.WriteString(" sok=")
		b.WriteString(b64.EncodeToString(k))
	}
	b.WriteString(" dx=")
	b.WriteString(r.DX)
	if r.DMAP != "" {
		b.WriteString(" dmap=")
		b.WriteString(r.DMAP)
	}
	if r.TLSPin != nil {
		b.WriteString(" tls=")
		b.WriteString(b64.EncodeToString(r.TLSPin))
	}
	if !r.Fingerprint.IsZero() {
		b.WriteString(" fp=")
		b.WriteString(r.Fingerprint.String())
	}
	b.WriteString(" pol=")
	b.WriteString(r.Policy.String())
	b.WriteString(" exp=")
	b.WriteString(strconv.Itoa(r.ExpDays))
	if r.Subdomain != SubExplicit {
		b.WriteString(" sub=")
		b.WriteString(r.Subdomain.String())
	}
	return b.String()
}

// TXT is String split into TXT character-strings by SplitTXT.
func (r *Record) TXT() []string { return SplitTXT(r.String()) }

// SplitTXT splits record text into character-strings of at most
// MaxStringLen bytes. Each string but the last ends just after a space
// where one fits, so the strings read as whole fields in a zone file; a
// field longer than a string is cut where the limit falls. Concatenating
// the strings without separators gives s again (docs/spec/dns.md §3.3).
func SplitTXT(s string) []string {
	var out []string
	for len(s) > MaxStringLen {
		cut := strings.LastIndexByte(s[:MaxStringLen], ' ') + 1
		if cut == 0 {
			cut = MaxStringLen
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}
