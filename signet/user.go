package signet

import (
	"crypto/ed25519"
	"crypto/hpke"
	"time"
)

// User field ids (spec §4).
const (
	userSigning   = 1
	userEnc       = 2
	userRecovery  = 3
	userAddress   = 16
	userNotBefore = 32
	userNotAfter  = 33
	userPrev      = 48
	userCustody   = 200
	userSelfSig   = 201
	userOrgSig    = 250
)

var userSpecs = map[byte]fieldSpec{
	userSigning:   {"signing-key", ed25519.PublicKeySize, ed25519.PublicKeySize, true},
	userEnc:       {"encryption-key", EncKeySize, EncKeySize, true},
	userRecovery:  {"recovery-key", ed25519.PublicKeySize, ed25519.PublicKeySize, true},
	userAddress:   {"address", 3, 254, true},
	userNotBefore: {"not-before", 8, 8, true},
	userNotAfter:  {"not-after", 8, 8, true},
	userPrev:      {"previous", len(Fingerprint{}), len(Fingerprint{}), false},
	userCustody:   {"custody-signature", 1 + ed25519.SignatureSize, 1 + ed25519.SignatureSize, false},
	userSelfSig:   {"self-signature", ed25519.SignatureSize, ed25519.SignatureSize, true},
	userOrgSig:    {"org-signature", ed25519.PublicKeySize + ed25519.SignatureSize, ed25519.PublicKeySize + ed25519.SignatureSize, true},
}

// A signing request stops before the organisation signature.
var requestAbsentOK = map[byte]bool{userOrgSig: true}

// CustodyKind says which key of the previous signet signed the chain of
// custody (spec §4.3).
type CustodyKind byte

const (
	CustodyPrevious CustodyKind = 1 // the previous signet's signing key: a rotation
	CustodyRecovery CustodyKind = 2 // the previous signet's recovery key: a restart after device loss
)

func (k CustodyKind) String() string {
	switch k {
	case CustodyPrevious:
		return "previous signing key"
	case CustodyRecovery:
		return "recovery key"
	}
	return "unknown"
}

// User is a user signet, or a signing request when it has no organisation
// signature yet.
type User struct {
	SigningKey  ed25519.PublicKey
	Enc         hpke.PublicKey
	RecoveryKey ed25519.PublicKey
	Address     string
	NotBefore   time.Time
	NotAfter    time.Time
	// Prev is the fingerprint of the signet this one succeeds; zero for the
	// first signet of an address.
	Prev Fingerprint
	// Custody is who signed the chain of custody; zero when Prev is zero.
	Custody CustodyKind
	// OrgSigner is the POK or SOK that certified the signet; nil for a
	// signing request.
	OrgSigner ed25519.PublicKey

	raw                         []byte
	custodySig, selfSig, orgSig []byte
	custodyOff, selfOff, orgOff int
}

// UserFields are the contents of a new user signet.
type UserFields struct {
	SigningKey  ed25519.PublicKey
	Enc         hpke.PublicKey
	RecoveryKey ed25519.PublicKey
	Address     string
	NotBefore   time.Time
	NotAfter    time.Time
}

// Successor says which signet a new one succeeds and signs the chain of
// custody: with Prev's signing key (Kind CustodyPrevious) or its recovery key
// (CustodyRecovery).
type Successor struct {
	Prev *User
	Kind CustodyKind
	Key  ed25519.PrivateKey
}

// NewRequest builds a signing request: the fields, the chain-of-custody
// signature when succ is not nil, and the self-signature by signing (which
// must match f.SigningKey). The organisation completes it with Certify.
func NewRequest(f UserFields, signing ed25519.PrivateKey, succ *Successor) (*User, error) {
	b := newBuilder(KindUser)
	b.add(userSigning, f.SigningKey)
	if f.Enc != nil {
		b.add(userEnc, f.Enc.Bytes())
	}
	b.add(userRecovery, f.RecoveryKey)
	b.add(userAddress, []byte(f.Address))
	b.add(userNotBefore, encodeTime(f.NotBefore))
	b.add(userNotAfter, encodeTime(f.NotAfter))
	if succ != nil {
		fp := succ.Prev.Fingerprint()
		b.add(userPrev, fp[:])
		sig := ed25519.Sign(succ.Key, signedMessage("custody", b.buf, len(b.buf)))
		b.add(userCustody, append([]byte{byte(succ.Kind)}, sig...))
	}
	b.add(userSelfSig, ed25519.Sign(signing, signedMessage("self", b.buf, len(b.buf))))
	u, err := ParseRequest(b.finish())
	if err != nil {
		return nil, err
	}
	if err := u.VerifySelf(); err != nil {
		return nil, err
	}
	if succ != nil {
		if err := VerifyChain(succ.Prev, u); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Certify is the organisation's half of issuance: it checks the request's
// form, its self-signature and that its address belongs to org's domain,
// and that signer is the POK or a SOK allowed to sign signets, then appends
// the organisation signature. Policy (is this address an account, is the
// chain acceptable) is the provider's, before it calls Certify.
func Certify(req *User, org *Org, signer ed25519.PrivateKey) (*User, error) {
	if req.orgSig != nil {
		return nil, errorf("org-signature", "already certified")
	}
	if err := req.VerifySelf(); err != nil {
		return nil, err
	}
	if DomainOf(req.Address) != org.Domain {
		return nil, errorf("address", "domain of %q is not the organisation's %q", req.Address, org.Domain)
	}
	pub := signer.Public().(ed25519.PublicKey)
	if !org.MaySign(pub, PermSignSignets) {
		return nil, errorf("org-signature", "signer is neither the POK nor a SOK with the sign-signets permission")
	}
	raw := append([]byte(nil), req.raw...)
	b := &builder{kind: KindUser, buf: raw}
	sig := ed25519.Sign(signer, signedMessage("org", raw, len(raw)))
	b.add(userOrgSig, append(append([]byte(nil), pub...), sig...))
	return ParseUser(b.finish())
}

// ParseUser decodes a certified user signet; ParseRequest a signing
// request. Neither checks signatures: call Verify and VerifyChain.
func ParseUser(b []byte) (*User, error) { return parseUser(b, false) }

// ParseRequest decodes a signing request (a user signet without the
// organisation signature).
func ParseRequest(b []byte) (*User, error) {
	u, err := parseUser(b, true)
	if err != nil {
		return nil, err
	}
	if u.orgSig != nil {
		return nil, errorf("org-signature", "a signing request must not carry one")
	}
	return u, nil
}

func parseUser(b []byte, request bool) (*User, error) {
	raw := append([]byte(nil), b...)
	var absentOK map[byte]bool
	if request {
		absentOK = requestAbsentOK
	}
	fields, err := decode(raw, KindUser, userSpecs, absentOK)
	if err != nil {
		return nil, err
	}
	u := &User{raw: raw}
	for _, f := range fields {
		name := userSpecs[f.id].name
		switch f.id {
		case userSigning:
			u.SigningKey = ed25519.PublicKey(f.data)
		case userEnc:
			if u.Enc, err = parseEncKey(name, f.data); err != nil {
				return nil, err
			}
		case userRecovery:
			u.RecoveryKey = ed25519.PublicKey(f.data)
			if u.RecoveryKey.Equal(u.SigningKey) {
				return nil, errorf(name, "must differ from the signing key")
			}
		case userAddress:
			u.Address = string(f.data)
			if err := CheckAddress(u.Address); err != nil {
				return nil, &Error{Field: name, Rule: "not a canonical address", Err: err}
			}
		case userNotBefore:
			if u.NotBefore, err = decodeTime(name, f.data); err != nil {
				return nil, err
			}
		case userNotAfter:
			if u.NotAfter, err = decodeTime(name, f.data); err != nil {
				return nil, err
			}
		case userPrev:
			copy(u.Prev[:], f.data)
		case userCustody:
			u.Custody = CustodyKind(f.data[0])
			if u.Custody != CustodyPrevious && u.Custody != CustodyRecovery {
				return nil, errorf(name, "unknown custody kind %d (1 previous signing key, 2 recovery key)", f.data[0])
			}
			u.custodySig, u.custodyOff = f.data[1:], f.off
		case userSelfSig:
			u.selfSig, u.selfOff = f.data, f.off
		case userOrgSig:
			u.OrgSigner = ed25519.PublicKey(f.data[:ed25519.PublicKeySize])
			u.orgSig, u.orgOff = f.data[ed25519.PublicKeySize:], f.off
		}
	}
	if u.Prev.IsZero() != (u.custodySig == nil) {
		return nil, errorf("custody-signature", "previous fingerprint and custody signature must both be present or both absent")
	}
	if !u.NotAfter.After(u.NotBefore) {
		return nil, errorf("validity", "not-after %s is not after not-before %s", u.NotAfter.Format(time.RFC3339), u.NotBefore.Format(time.RFC3339))
	}
	return u, nil
}

// Bytes returns the exact encoding. The caller must not modify it.
func (u *User) Bytes() []byte { return u.raw }

// Fingerprint is SHA-256 of the whole signet (or request).
func (u *User) Fingerprint() Fingerprint { return FingerprintOf(u.raw) }

// IsRequest reports whether the organisation has not signed u yet.
func (u *User) IsRequest() bool { return u.orgSig == nil }

// VerifySelf checks the user's self-signature alone (for a signing request
// before certification).
func (u *User) VerifySelf() error {
	if !ed25519.Verify(u.SigningKey, signedMessage("self", u.raw, u.selfOff), u.selfSig) {
		return errorf("self-signature", "does not verify with the signet's signing key")
	}
	return nil
}

// Verify checks a certified user signet against its organisation's signet
// at time now: the organisation signet itself, the address's domain, the
// self-signature, the organisation signature and its signer's permission,
// and both validity periods. The chain of custody needs the previous signet:
// VerifyChain checks it.
func (u *User) Verify(org *Org, now time.Time) error {
	if u.orgSig == nil {
		return errorf("org-signature", "missing: this is an uncertified signing request")
	}
	if err := org.Verify(now); err != nil {
		return &Error{Field: "organisation", Rule: "organisation signet of " + org.Domain + " is not valid", Err: err}
	}
	if DomainOf(u.Address) != org.Domain {
		return errorf("address", "domain of %q is not %q", u.Address, org.Domain)
	}
	if err := u.VerifySelf(); err != nil {
		return err
	}
	if !org.MaySign(u.OrgSigner, PermSignSignets) {
		return errorf("org-signature", "signer is neither the POK nor a SOK of %s with the sign-signets permission", org.Domain)
	}
	if !ed25519.Verify(u.OrgSigner, signedMessage("org", u.raw, u.orgOff), u.orgSig) {
		return errorf("org-signature", "does not verify")
	}
	return checkValidity(u.NotBefore, u.NotAfter, now)
}
