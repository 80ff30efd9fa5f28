package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
)

// ErrNotOpenPGP is returned by Decrypt for a message that is neither PGP/MIME
// nor carries an inline OpenPGP message or clearsigned text.
var ErrNotOpenPGP = errors.New("pgp: not an OpenPGP message")

// SignatureStatus is the verdict on a message's signature.
type SignatureStatus int

const (
	SignatureNone       SignatureStatus = iota // not signed
	SignatureGood                              // signed and verified; Result.Signer names the key
	SignatureBad                               // signed by a known key, but the signature does not verify
	SignatureUnknownKey                        // signed by a key neither ours nor found by lookup
)

func (s SignatureStatus) String() string {
	switch s {
	case SignatureNone:
		return "none"
	case SignatureGood:
		return "good"
	case SignatureBad:
		return "bad"
	case SignatureUnknownKey:
		return "unknown key"
	}
	return fmt.Sprintf("SignatureStatus(%d)", int(s))
}

// Result is what Decrypt found.
type Result struct {
	// Message is the opened RFC 5322 message, CRLF line endings.
	Message []byte
	// Encrypted reports whether any of the message was encrypted.
	Encrypted bool
	// Signature is the verdict on the signature; with several signature
	// layers, a bad one wins, else the innermost one.
	Signature SignatureStatus
	// Signer is the fingerprint of the signing key (GnuPG style) and
	// SignerKey the key, when Signature is good or bad. Whether the signer
	// is the From address is the caller's question (SignerKey.HasAddress).
	Signer    string
	SignerKey *PublicKey
	// SignatureError says why a signature is bad.
	SignatureError error
	// HeadersProtected reports that Message's header fields came from
	// inside the cryptographic payload (RFC 9788 §4), not from the
	// unprotected outer header.
	HeadersProtected bool
}

func (r *Result) addSignature(st SignatureStatus, signer *openpgp.Entity, err error) {
	if r.Signature == SignatureBad {
		return
	}
	r.Signature, r.Signer, r.SignerKey, r.SignatureError = st, "", nil, err
	if signer != nil {
		r.SignerKey = &PublicKey{signer}
		r.Signer = r.SignerKey.Fingerprint()
	}
}

// decoder holds what one Decrypt call needs.
type decoder struct {
	kr     keyring
	now    time.Time
	res    *Result
	opened bool // some OpenPGP structure was found
}

// Decrypt opens msg, an RFC 5322 message of at most MaxMessageSize bytes:
// PGP/MIME encrypted (RFC 3156 §4, signed inside or not), PGP/MIME signed
// (§5), or a text/plain body holding an inline OpenPGP message or clearsigned
// text (RFC 9580 §7). keys are our own keys, tried for decryption and
// verification; lookup, which may be nil, is asked for a signer's public key
// by key ID. Structures nest at most a few levels deep. A ciphertext that
// fails its integrity check is an error, never a result. Signatures are
// judged as of now (a key expired or revoked since makes them bad), so the
// caller should decrypt on arrival and keep the Result.
func Decrypt(msg io.Reader, keys []*Key, lookup func(keyID uint64) *PublicKey) (*Result, error) {
	raw, err := readLimited(msg, "message")
	if err != nil {
		return nil, err
	}
	top, err := parseMIME(raw)
	if err != nil {
		return nil, err
	}
	d := &decoder{kr: newKeyring(keys, lookup), now: time.Now(), res: &Result{}}
	content, err := d.open(top, 0)
	if err != nil {
		return nil, err
	}
	if !d.opened {
		return nil, ErrNotOpenPGP
	}
	d.res.Message, err = assemble(top, content, d.res)
	if err != nil {
		return nil, err
	}
	return d.res, nil
}

// open returns the innermost content of e once every OpenPGP layer is
// removed.
func (d *decoder) open(e *entity, depth int) (*entity, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("pgp: nested more than %d levels", maxDepth)
	}
	t, params, err := e.mediaType()
	if err != nil {
		return nil, err
	}
	protocol := strings.ToLower(params["protocol"])
	switch {
	case t == "multipart/encrypted" && protocol == "application/pgp-encrypted":
		inner, err := d.openEncrypted(e, params["boundary"])
		if err != nil {
			return nil, err
		}
		return d.open(inner, depth+1)
	case t == "multipart/signed" && protocol == "application/pgp-signature":
		inner, err := d.openSigned(e, params["boundary"])
		if err != nil {
			return nil, err
		}
		return d.open(inner, depth+1)
	case t == "text/plain" && depth == 0:
		return d.openInline(e, params["charset"])
	}
	return e, nil
}

// openEncrypted decrypts a multipart/encrypted entity (RFC 3156 §4): a
// control part "Version: 1", then the OpenPGP message.
func (d *decoder) openEncrypted(e *entity, boundary string) (*entity, error) {
	parts, err := splitMultipart(e.body, boundary)
	if err != nil {
		return nil, err
	}
	if len(parts) != 2 {
		return nil, fmt.Errorf("pgp: multipart/encrypted has %d parts, want 2", len(parts))
	}
	control, err := parseMIME(parts[0])
	if err != nil {
		return nil, err
	}
	if t, _, err := control.mediaType(); err != nil || t != "application/pgp-encrypted" {
		return nil, fmt.Errorf("pgp: multipart/encrypted: first part is not application/pgp-encrypted")
	}
	data, err := parseMIME(parts[1])
	if err != nil {
		return nil, err
	}
	armored, err := data.decodedBody()
	if err != nil {
		return nil, err
	}
	plaintext, encrypted, err := d.readMessage(armored)
	if err != nil {
		return nil, err
	}
	if !encrypted {
		return nil, fmt.Errorf("pgp: multipart/encrypted holds an unencrypted OpenPGP message")
	}
	return parseMIME(plaintext)
}

// openSigned verifies a multipart/signed entity (RFC 3156 §5): the first
// part's exact bytes (CRLF) are what the detached signature in the second
// part covers.
func (d *decoder) openSigned(e *entity, boundary string) (*entity, error) {
	parts, err := splitMultipart(e.body, boundary)
	if err != nil {
		return nil, err
	}
	if len(parts) != 2 {
		return nil, fmt.Errorf("pgp: multipart/signed has %d parts, want 2", len(parts))
	}
	sigPart, err := parseMIME(parts[1])
	if err != nil {
		return nil, err
	}
	if t, _, err := sigPart.mediaType(); err != nil || t != "application/pgp-signature" {
		return nil, fmt.Errorf("pgp: multipart/signed: second part is not application/pgp-signature")
	}
	armored, err := sigPart.decodedBody()
	if err != nil {
		return nil, err
	}
	block, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("pgp: multipart/signed: signature armor: %w", err)
	}
	if block.Type != "PGP SIGNATURE" {
		return nil, fmt.Errorf("pgp: multipart/signed: armor type %q, want PGP SIGNATURE", block.Type)
	}
	_, signer, err := openpgp.VerifyDetachedSignature(d.kr, bytes.NewReader(parts[0]), block.Body, config(d.now))
	d.res.addSignature(verdict(signer, err))
	d.opened = true
	return parseMIME(parts[0])
}

// readMessage reads one armored OpenPGP message (encrypted, signed, or both)
// and returns its literal data and whether it was encrypted, recording what
// it found in d.res.
func (d *decoder) readMessage(armored []byte) ([]byte, bool, error) {
	block, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		return nil, false, fmt.Errorf("pgp: armor: %w", err)
	}
	if block.Type != "PGP MESSAGE" {
		return nil, false, fmt.Errorf("pgp: armor type %q, want PGP MESSAGE", block.Type)
	}
	md, err := openpgp.ReadMessage(block.Body, d.kr, nil, config(d.now))
	if errors.Is(err, pgperrors.ErrKeyIncorrect) {
		return nil, false, fmt.Errorf("pgp: no key of ours opens the message")
	}
	if err != nil {
		return nil, false, fmt.Errorf("pgp: read message: %w", err)
	}
	// The integrity check (and the signature) is only known at EOF.
	plaintext, err := readLimited(md.UnverifiedBody, "decrypted message")
	if err != nil {
		return nil, false, fmt.Errorf("pgp: message failed its integrity check or is malformed: %w", err)
	}
	d.opened = true
	d.res.Encrypted = d.res.Encrypted || md.IsEncrypted
	switch {
	case !md.IsSigned:
	case md.SignedBy == nil:
		d.res.addSignature(SignatureUnknownKey, nil, nil)
	default:
		d.res.addSignature(verdict(md.SignedBy.Entity, md.SignatureError))
	}
	return plaintext, md.IsEncrypted, nil
}

// verdict maps a verification outcome to a status.
func verdict(signer *openpgp.Entity, err error) (SignatureStatus, *openpgp.Entity, error) {
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return SignatureUnknownKey, nil, nil
	case signer == nil && err == nil:
		return SignatureBad, nil, errors.New("pgp: signature without signer")
	case err != nil:
		return SignatureBad, signer, err
	}
	return SignatureGood, signer, nil
}

// assemble builds the opened message. With header protection (RFC 9788
// hp=, or the older protected-headers=v1) the content's own header fields
// are the message's, except HP-Outer; otherwise the outer header's fields
// describe the message and the content's Content-* fields describe its body.
func assemble(top, content *entity, res *Result) ([]byte, error) {
	_, params, err := content.mediaType()
	if err != nil {
		return nil, err
	}
	_, hp := params["hp"]
	_, legacyHP := params["protected-headers"]
	res.HeadersProtected = content != top && (hp || legacyHP)
	var out bytes.Buffer
	if !res.HeadersProtected {
		writeFields(&out, top, func(key string) bool { return !isContentField(key) })
		out.WriteString("MIME-Version: 1.0\r\n")
	}
	writeFields(&out, content, func(key string) bool {
		return key != "Hp-Outer" && (res.HeadersProtected || isContentField(key) && key != "Mime-Version")
	})
	out.WriteString("\r\n")
	out.Write(content.body)
	return out.Bytes(), nil
}

// writeFields copies e's header fields for which keep is true, unchanged.
func writeFields(w *bytes.Buffer, e *entity, keep func(key string) bool) {
	fields := e.header.Fields()
	for fields.Next() {
		if !keep(fields.Key()) {
			continue
		}
		if raw, err := fields.Raw(); err == nil {
			w.Write(crlf(raw))
		}
	}
}
