package pgp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/emersion/go-message/textproto"
)

const (
	beginMessage = "-----BEGIN PGP MESSAGE-----"
	endMessage   = "-----END PGP MESSAGE-----"
	beginSigned  = "-----BEGIN PGP SIGNED MESSAGE-----"
)

// openInline opens a text/plain body holding an inline OpenPGP message or
// clearsigned text (RFC 9580 §6.2, §7). Only the OpenPGP block is kept: text
// around it is neither encrypted nor signed and is dropped, so it cannot pass
// for protected text. A body with neither is returned unchanged.
func (d *decoder) openInline(e *entity, charset string) (*entity, error) {
	body, err := e.decodedBody()
	if err != nil {
		return nil, err
	}
	var text []byte
	if i := bytes.Index(body, []byte(beginMessage)); i >= 0 {
		block := body[i:]
		if j := bytes.Index(block, []byte(endMessage)); j >= 0 {
			block = block[:j+len(endMessage)]
		}
		if text, _, err = d.readMessage(block); err != nil {
			return nil, err
		}
	} else if i := bytes.Index(body, []byte(beginSigned)); i >= 0 {
		if text, err = d.clearsigned(body[i:]); err != nil {
			return nil, err
		}
	} else {
		return e, nil
	}
	return textEntity(text, charset)
}

// clearsigned verifies clearsigned text (RFC 9580 §7) and returns the text.
func (d *decoder) clearsigned(data []byte) ([]byte, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("pgp: malformed clearsigned message")
	}
	_, signer, err := openpgp.VerifyDetachedSignature(d.kr, bytes.NewReader(block.Bytes), block.ArmoredSignature.Body, config(d.now))
	d.res.addSignature(verdict(signer, err))
	d.opened = true
	return block.Plaintext, nil
}

// textEntity makes a text/plain entity of text, quoted-printable so any
// bytes and line lengths survive transport.
func textEntity(text []byte, charset string) (*entity, error) {
	if charset == "" {
		charset = "utf-8"
	}
	var h textproto.Header
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	h.Set("Content-Type", mime.FormatMediaType("text/plain", map[string]string{"charset": charset}))
	var body bytes.Buffer
	w := quotedprintable.NewWriter(&body)
	w.Write(crlf(text)) // writing to memory cannot fail
	w.Close()
	return &entity{header: h, body: body.Bytes()}, nil
}

// decodedBody is the body with its Content-Transfer-Encoding (RFC 2045 §6)
// undone.
func (e *entity) decodedBody() ([]byte, error) {
	var r io.Reader = bytes.NewReader(e.body)
	switch cte := strings.ToLower(strings.TrimSpace(e.header.Get("Content-Transfer-Encoding"))); cte {
	case "", "7bit", "8bit", "binary":
		return e.body, nil
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	default:
		return nil, fmt.Errorf("pgp: unknown Content-Transfer-Encoding %q", cte)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("pgp: decode body: %w", err)
	}
	return b, nil
}
