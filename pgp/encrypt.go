package pgp

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// outerFields are the header fields that stay readable outside an encrypted
// message, so it can be delivered and threaded (RFC 9788 §2.2 lets a sender
// choose; this is its hcp_baseline minus everything delivery does not need).
// Subject is replaced by "[...]" outside.
var outerFields = map[string]bool{
	"From": true, "To": true, "Cc": true, "Date": true, "Message-Id": true,
	"In-Reply-To": true, "References": true,
}

// obscuredSubject is the outer Subject of an encrypted message (RFC 9788
// §2.2, hcp_baseline).
const obscuredSubject = "[...]"

// Encrypt turns msg, a complete RFC 5322 message, into a PGP/MIME encrypted
// and signed message (RFC 3156 §6.2, one OpenPGP message that is both): the
// whole original message, headers included, is the encrypted part, its
// Content-Type marked hp="cipher" and HP-Outer fields recording the outer
// header (RFC 9788 §2.2). The outer header keeps only outerFields and the
// obscured Subject. It is encrypted to every key in to and to from's own key
// (so the sender's Sent copy opens) and signed by from. Bcc fields are
// dropped: every recipient receives the same ciphertext.
func Encrypt(msg io.Reader, from *Key, to []*PublicKey, now time.Time) ([]byte, error) {
	raw, err := readLimited(msg, "message")
	if err != nil {
		return nil, err
	}
	orig, err := parseMIME(raw)
	if err != nil {
		return nil, err
	}
	inner, outer, err := protectHeaders(orig, "cipher")
	if err != nil {
		return nil, err
	}
	ciphertext, err := encryptSigned(inner, from, to, now)
	if err != nil {
		return nil, err
	}

	boundary := newBoundary()
	var out bytes.Buffer
	out.Write(outer)
	ct := mime.FormatMediaType("multipart/encrypted", map[string]string{
		"protocol": "application/pgp-encrypted", "boundary": boundary})
	fmt.Fprintf(&out, "MIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n", ct)
	// RFC 3156 §4: the control part, then the encrypted data.
	writeMultipart(&out, boundary, "This is an OpenPGP/MIME encrypted message (RFC 3156 and RFC 9788).",
		[]byte("Content-Type: application/pgp-encrypted\r\n"+
			"Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n"),
		append([]byte("Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"+
			"Content-Description: OpenPGP encrypted message\r\n"+
			"Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n"), ciphertext...))
	return out.Bytes(), nil
}

// protectHeaders builds the cryptographic payload of RFC 9788 §2.2 from a
// message: all its header fields but Bcc, Content-Type marked hp=hp, an
// HP-Outer field for each field left outside, then the original body. It also
// returns the outer header fields (without the MIME fields the caller adds).
// For hp "clear" (signed only) nothing is obscured outside.
func protectHeaders(orig *entity, hp string) (inner, outer []byte, err error) {
	var in, out bytes.Buffer
	haveType := false
	fields := orig.header.Fields()
	for fields.Next() {
		key := fields.Key()
		rawField, err := fields.Raw()
		if err != nil {
			return nil, nil, fmt.Errorf("pgp: header field %s: %w", key, err)
		}
		rawField = crlf(rawField)
		switch {
		case key == "Bcc":
			continue
		case key == "Content-Type":
			t, params, err := orig.mediaType()
			if err != nil {
				return nil, nil, err
			}
			params["hp"] = hp
			fmt.Fprintf(&in, "Content-Type: %s\r\n", mime.FormatMediaType(t, params))
			haveType = true
			continue
		case outerFields[key] || (hp == "clear" && !isContentField(key)):
			out.Write(rawField)
		case key == "Subject":
			fmt.Fprintf(&out, "Subject: %s\r\n", obscuredSubject)
		}
		in.Write(rawField)
	}
	if !haveType {
		ct := mime.FormatMediaType("text/plain", map[string]string{"charset": "us-ascii", "hp": hp})
		fmt.Fprintf(&in, "Content-Type: %s\r\n", ct)
	}
	if hp == "cipher" {
		// RFC 9788 §2.2.1: HP-Outer records each non-structural outer field.
		for _, line := range bytes.SplitAfter(out.Bytes(), []byte("\r\n")) {
			if len(line) > 0 && line[0] != ' ' && line[0] != '\t' {
				in.WriteString("HP-Outer: ")
			}
			in.Write(line)
		}
	}
	in.WriteString("\r\n")
	in.Write(orig.body)
	return in.Bytes(), out.Bytes(), nil
}

// isContentField reports whether a header field describes the MIME body
// (RFC 2045 §9) and so belongs to a part, not the message.
func isContentField(key string) bool {
	return strings.HasPrefix(key, "Content-") || key == "Mime-Version"
}

// encryptSigned encrypts and signs data as one armored OpenPGP message
// (binary literal data, SEIPD v1) to the keys of to and from.
func encryptSigned(data []byte, from *Key, to []*PublicKey, now time.Time) ([]byte, error) {
	if from == nil {
		return nil, fmt.Errorf("pgp: encrypt: no sender key")
	}
	recipients := []*openpgp.Entity{from.entity}
	seen := map[string]bool{from.Fingerprint(): true}
	for _, k := range to {
		if k == nil || seen[k.Fingerprint()] {
			continue
		}
		seen[k.Fingerprint()] = true
		recipients = append(recipients, k.entity)
	}
	var out bytes.Buffer
	aw, err := armor.Encode(&out, "PGP MESSAGE", nil)
	if err != nil {
		return nil, fmt.Errorf("pgp: encrypt: %w", err)
	}
	w, err := openpgp.Encrypt(aw, recipients, from.entity, &openpgp.FileHints{IsBinary: true}, config(now))
	if err != nil {
		return nil, fmt.Errorf("pgp: encrypt: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("pgp: encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("pgp: encrypt: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("pgp: encrypt: %w", err)
	}
	out.WriteString("\r\n")
	return crlf(out.Bytes()), nil
}
