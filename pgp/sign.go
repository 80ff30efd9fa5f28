package pgp

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Sign turns msg, a complete RFC 5322 message, into a PGP/MIME signed
// message (RFC 3156 §5) for a recipient without a key: the signed part
// carries all header fields, Content-Type marked hp="clear" (RFC 9788 §2.2),
// and the outer header repeats them (nothing is confidential). Bcc is
// dropped. A single-part body that is not 7-bit clean is re-encoded
// quoted-printable first, as RFC 3156 §3 requires of signed data; a
// multipart body must already be 7-bit.
func Sign(msg io.Reader, from *Key, now time.Time) ([]byte, error) {
	raw, err := readLimited(msg, "message")
	if err != nil {
		return nil, err
	}
	orig, err := parseMIME(raw)
	if err != nil {
		return nil, err
	}
	if orig, err = sevenBit(orig); err != nil {
		return nil, err
	}
	inner, outer, err := protectHeaders(orig, "clear")
	if err != nil {
		return nil, err
	}
	if from == nil {
		return nil, fmt.Errorf("pgp: sign: no sender key")
	}
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, from.entity, bytes.NewReader(inner), config(now)); err != nil {
		return nil, fmt.Errorf("pgp: sign: %w", err)
	}
	sig.WriteString("\r\n")

	boundary := newBoundary()
	var out bytes.Buffer
	out.Write(outer)
	ct := mime.FormatMediaType("multipart/signed", map[string]string{
		"micalg": "pgp-sha256", "protocol": "application/pgp-signature", "boundary": boundary})
	fmt.Fprintf(&out, "MIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n", ct)
	writeMultipart(&out, boundary, "This is an OpenPGP/MIME signed message (RFC 3156 and RFC 9788).",
		inner,
		append([]byte("Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n"+
			"Content-Description: OpenPGP digital signature\r\n"+
			"Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n"), crlf(sig.Bytes())...))
	return out.Bytes(), nil
}

// sevenBit returns e with a body that survives any transport unchanged: 7-bit
// lines of at most 998 octets without trailing white space (RFC 3156 §3).
func sevenBit(e *entity) (*entity, error) {
	if isSevenBitClean(e.body) {
		return e, nil
	}
	t, _, err := e.mediaType()
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(t, "multipart/") {
		return nil, fmt.Errorf("pgp: sign: multipart body is not 7-bit clean; encode its parts first")
	}
	decoded, err := e.decodedBody()
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	w := quotedprintable.NewWriter(&body)
	w.Write(decoded) // writing to memory cannot fail
	w.Close()
	h := e.header.Copy()
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	return &entity{header: h, body: crlf(body.Bytes())}, nil
}

func isSevenBitClean(body []byte) bool {
	for _, line := range bytes.Split(body, []byte("\r\n")) {
		if len(line) > 998 || bytes.HasSuffix(line, []byte(" ")) || bytes.HasSuffix(line, []byte("\t")) {
			return false
		}
		for _, c := range line {
			if c == 0 || c >= 0x80 || c == '\r' || c == '\n' {
				return false
			}
		}
	}
	return true
}
