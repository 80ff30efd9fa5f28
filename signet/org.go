package signet

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"net/url"
	"time"
)

// Permission bits of a secondary organisation key (spec §3; DIME's values).
type Permission byte

const (
	PermSignSignets  Permission = 1 // may certify user signets
	PermSignMessages Permission = 2 // may add the origin signature to messages
	PermTLS          Permission = 4 // may sign TLS certificates
	permAll                     = PermSignSignets | PermSignMessages | PermTLS
)

// SOK is a secondary organisation key with what it may sign.
type SOK struct {
	Key   ed25519.PublicKey
	Perms Permission
}

// Org field ids (spec §3).
const (
	orgPOK       = 1
	orgSOK       = 2
	orgEnc       = 3
	orgDomain    = 16
	orgDMTP      = 17
	orgDMAP      = 18
	orgTLSPin    = 19
	orgLogKey    = 20
	orgNotBefore = 32
	orgNotAfter  = 33
	orgSig       = 255
)

const maxSOKs = 16

var orgSpecs = map[byte]fieldSpec{
	orgPOK:       {"pok", ed25519.PublicKeySize, ed25519.PublicKeySize, true},
	orgSOK:       {"sok", 1 + ed25519.PublicKeySize, maxSOKs * (1 + ed25519.PublicKeySize), false},
	orgEnc:       {"encryption-key", EncKeySize, EncKeySize, true},
	orgDomain:    {"domain", 1, 253, true},
	orgDMTP:      {"dmtp", 1, 255, true},
	orgDMAP:      {"dmap", 1, 512, false},
	orgTLSPin:    {"tls-pin", sha256.Size, sha256.Size, false},
	orgLogKey:    {"log-key", 1, 512, false},
	orgNotBefore: {"not-before", 8, 8, true},
	orgNotAfter:  {"not-after", 8, 8, true},
	orgSig:       {"org-signature", ed25519.SignatureSize, ed25519.SignatureSize, true},
}

// Org is an organisation signet. Build one with NewOrg or Parse one; the
// fields are then read-only.
type Org struct {
	POK       ed25519.PublicKey
	SOKs      []SOK
	Enc       hpke.PublicKey
	Domain    string
	DMTP      string // host:port of the DMTP service
	DMAP      string // https URL of the DMAP service, if any
	TLSPin    []byte // SHA-256 of the TLS certificate's SubjectPublicKeyInfo, if pinned
	LogKey    string // the transparency log's signed-note verifier key, if any
	NotBefore time.Time
	NotAfter  time.Time

	raw []byte
	sig []byte
	// sigOff is the offset of the signature field within raw.
	sigOff int
}

// OrgFields are the contents of a new organisation signet.
type OrgFields struct {
	POK       ed25519.PublicKey
	SOKs      []SOK
	Enc       hpke.PublicKey
	Domain    string
	DMTP      string
	DMAP      string
	TLSPin    []byte
	LogKey    string
	NotBefore time.Time
	NotAfter  time.Time
}

// NewOrg encodes f and signs it with the POK's private key. The result is
// parsed back, so it obeys exactly the rules a receiver applies.
func NewOrg(f OrgFields, pok ed25519.PrivateKey) (*Org, error) {
	b := newBuilder(KindOrg)
	b.add(orgPOK, f.POK)
	if len(f.SOKs) > 0 {
		var s []byte
		for _, k := range f.SOKs {
			s = append(s, byte(k.Perms))
			s = append(s, k.Key...)
		}
		b.add(orgSOK, s)
	}
	if f.Enc != nil {
		b.add(orgEnc, f.Enc.Bytes())
	}
	b.add(orgDomain, []byte(f.Domain))
	b.add(orgDMTP, []byte(f.DMTP))
	if f.DMAP != "" {
		b.add(orgDMAP, []byte(f.DMAP))
	}
	if f.TLSPin != nil {
		b.add(orgTLSPin, f.TLSPin)
	}
	if f.LogKey != "" {
		b.add(orgLogKey, []byte(f.LogKey))
	}
	b.add(orgNotBefore, encodeTime(f.NotBefore))
	b.add(orgNotAfter, encodeTime(f.NotAfter))
	sigOff := len(b.buf)
	sig := ed25519.Sign(pok, signedMessage("org", b.buf, sigOff))
	b.add(orgSig, sig)
	o, err := ParseOrg(b.finish())
	if err != nil {
		return nil, err
	}
	if err := o.verifySelf(); err != nil {
		return nil, err // the private key does not match f.POK
	}
	return o, nil
}

// ParseOrg decodes an organisation signet. It checks the encoding and the
// form of every field but no signature: call Verify for that.
func ParseOrg(b []byte) (*Org, error) {
	raw := append([]byte(nil), b...)
	fields, err := decode(raw, KindOrg, orgSpecs, nil)
	if err != nil {
		return nil, err
	}
	o := &Org{raw: raw}
	for _, f := range fields {
		name := orgSpecs[f.id].name
		switch f.id {
		case orgPOK:
			o.POK = ed25519.PublicKey(f.data)
		case orgSOK:
			if len(f.data)%(1+ed25519.PublicKeySize) != 0 {
				return nil, errorf(name, "length %d is not a whole number of 33-byte entries", len(f.data))
			}
			for i := 0; i < len(f.data); i += 1 + ed25519.PublicKeySize {
				p := Permission(f.data[i])
				if p == 0 || p&^permAll != 0 {
					return nil, errorf(name, "entry %d: permission bits %#x invalid (known: 1 signets, 2 messages, 4 tls)", i/33, byte(p))
				}
				k := ed25519.PublicKey(f.data[i+1 : i+33])
				if k.Equal(o.POK) || o.MaySign(k, 0) {
					return nil, errorf(name, "entry %d: key repeats the POK or another SOK", i/33)
				}
				o.SOKs = append(o.SOKs, SOK{Key: k, Perms: p})
			}
		case orgEnc:
			if o.Enc, err = parseEncKey(name, f.data); err != nil {
				return nil, err
			}
		case orgDomain:
			o.Domain = string(f.data)
			if err := CheckDomain(o.Domain); err != nil {
				return nil, &Error{Field: name, Rule: "not a canonical domain", Err: err}
			}
		case orgDMTP:
			o.DMTP = string(f.data)
			if err := checkHostPort(o.DMTP); err != nil {
				return nil, &Error{Field: name, Rule: "not host:port", Err: err}
			}
		case orgDMAP:
			o.DMAP = string(f.data)
			if u, err := url.Parse(o.DMAP); err != nil || u.Scheme != "https" || u.Host == "" || u.String() != o.DMAP {
				return nil, errorf(name, "%q is not a canonical https URL", truncate(o.DMAP, 80))
			}
		case orgTLSPin:
			o.TLSPin = f.data
		case orgLogKey:
			o.LogKey = string(f.data)
			for _, c := range f.data {
				if c <= ' ' || c >= 0x7f {
					return nil, errorf(name, "not printable ASCII")
				}
			}
		case orgNotBefore:
			if o.NotBefore, err = decodeTime(name, f.data); err != nil {
				return nil, err
			}
		case orgNotAfter:
			if o.NotAfter, err = decodeTime(name, f.data); err != nil {
				return nil, err
			}
		case orgSig:
			o.sig, o.sigOff = f.data, f.off
		}
	}
	if !o.NotAfter.After(o.NotBefore) {
		return nil, errorf("validity", "not-after %s is not after not-before %s", o.NotAfter.Format(time.RFC3339), o.NotBefore.Format(time.RFC3339))
	}
	return o, nil
}

// Bytes returns the exact encoding. The caller must not modify it.
func (o *Org) Bytes() []byte { return o.raw }

// Fingerprint is SHA-256 of the whole signet.
func (o *Org) Fingerprint() Fingerprint { return FingerprintOf(o.raw) }

func (o *Org) verifySelf() error {
	if !ed25519.Verify(o.POK, signedMessage("org", o.raw, o.sigOff), o.sig) {
		return errorf("org-signature", "POK signature does not verify")
	}
	return nil
}

// Verify checks the POK's self-signature and that now lies in the validity
// period.
func (o *Org) Verify(now time.Time) error {
	if err := o.verifySelf(); err != nil {
		return err
	}
	return checkValidity(o.NotBefore, o.NotAfter, now)
}

// MaySign reports whether key is the POK or a SOK holding perm.
func (o *Org) MaySign(key ed25519.PublicKey, perm Permission) bool {
	if key.Equal(o.POK) {
		return true
	}
	for _, s := range o.SOKs {
		if s.Key.Equal(key) && s.Perms&perm == perm {
			return true
		}
	}
	return false
}

func checkValidity(notBefore, notAfter, now time.Time) error {
	if now.Before(notBefore) {
		return errorf("validity", "not valid before %s (now %s)", notBefore.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !now.Before(notAfter) {
		return errorf("validity", "expired at %s (now %s)", notAfter.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// MessageKeys returns the keys of o that may sign messages (the origin
// signature, docs/spec/dmime.md): the SOKs with that permission first,
// since providers sign with a SOK and each wrong key tried costs a
// verification, then the POK.
func (o *Org) MessageKeys() []ed25519.PublicKey {
	var keys []ed25519.PublicKey
	for _, s := range o.SOKs {
		if s.Perms&PermSignMessages != 0 {
			keys = append(keys, s.Key)
		}
	}
	return append(keys, o.POK)
}
