package pgp

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"

	"github.com/emersion/go-message/textproto"
)

// MaxMessageSize bounds a message given to Encrypt, Sign or Decrypt, and
// anything a message decrypts or decompresses to.
const MaxMessageSize = 64 << 20

// maxDepth bounds how deep Decrypt follows MIME structures that wrap one
// another (encrypted inside signed inside encrypted ...).
const maxDepth = 4

// ErrTooLarge is wrapped by the error for input beyond MaxMessageSize.
var ErrTooLarge = errors.New("pgp: message too large")

// entity is a MIME entity (RFC 2045 §2.4): its header fields and its raw body.
type entity struct {
	header textproto.Header
	body   []byte
}

// readLimited reads all of r, failing beyond MaxMessageSize.
func readLimited(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxMessageSize+1))
	if err != nil {
		return nil, fmt.Errorf("pgp: read %s: %w", what, err)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %s over %d bytes", ErrTooLarge, what, MaxMessageSize)
	}
	return b, nil
}

// parseMIME splits raw into header and body. Line endings are made CRLF
// first, the canonical form of RFC 2049 §4 that signatures cover.
func parseMIME(raw []byte) (*entity, error) {
	br := bufio.NewReader(bytes.NewReader(crlf(raw)))
	h, err := textproto.ReadHeader(br)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("pgp: parse header: %w", err)
	}
	body, _ := io.ReadAll(br) // reading from memory cannot fail
	return &entity{header: h, body: body}, nil
}

// mediaType is the entity's Content-Type (RFC 2045 §5.2: text/plain when
// absent) with its parameters.
func (e *entity) mediaType() (string, map[string]string, error) {
	v := e.header.Get("Content-Type")
	if v == "" {
		return "text/plain", map[string]string{"charset": "us-ascii"}, nil
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "", nil, fmt.Errorf("pgp: Content-Type %q: %w", v, err)
	}
	return t, params, nil
}

// crlf returns b with every line ending CRLF.
func crlf(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) {
		return b
	}
	out := make([]byte, 0, len(b)+bytes.Count(b, []byte("\n")))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			break
		}
		line := bytes.TrimSuffix(b[:i], []byte("\r"))
		out = append(append(out, line...), '\r', '\n')
		b = b[i+1:]
	}
	return out
}

// splitMultipart returns the raw body parts of a multipart body (RFC 2046
// §5.1.1) in CRLF form, each exactly as transmitted: the CRLF before a
// delimiter belongs to the delimiter, so a part's bytes are what a
// multipart/signed signature covers (RFC 3156 §5).
func splitMultipart(body []byte, boundary string) ([][]byte, error) {
	if boundary == "" || len(boundary) > 70 {
		return nil, fmt.Errorf("pgp: multipart boundary %q invalid", boundary)
	}
	delim := []byte("--" + boundary)
	// A delimiter line starts the body or follows CRLF.
	text := append([]byte("\r\n"), body...)
	var parts [][]byte
	start := -1
	for pos := 0; ; {
		i := bytes.Index(text[pos:], append([]byte("\r\n"), delim...))
		if i < 0 {
			return nil, fmt.Errorf("pgp: multipart: no closing delimiter for boundary %q", boundary)
		}
		i += pos
		after := text[i+2+len(delim):]
		closing := bytes.HasPrefix(after, []byte("--"))
		// The delimiter line may carry trailing whitespace, then CRLF.
		rest := after
		if closing {
			rest = after[2:]
		}
		rest = bytes.TrimLeft(rest, " \t")
		if !closing && !bytes.HasPrefix(rest, []byte("\r\n")) {
			// Text that merely starts like a delimiter, e.g. "--boundaryX".
			pos = i + 2
			continue
		}
		if start >= 0 {
			// An empty part shares its CRLF with the delimiter line before.
			parts = append(parts, text[start:max(i, start)])
		}
		if closing {
			break
		}
		start = len(text) - len(rest) + 2
		pos = start - 2
		if len(parts) > 64 {
			return nil, fmt.Errorf("pgp: multipart: more than 64 parts")
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("pgp: multipart: no parts")
	}
	return parts, nil
}

// newBoundary returns a fresh random multipart boundary.
func newBoundary() string {
	return "umbra-" + rand.Text()
}

// writeMultipart writes a multipart body (RFC 2046 §5.1.1) of raw parts
// (header, blank line, body; in CRLF form) after a preamble line.
func writeMultipart(w *bytes.Buffer, boundary, preamble string, parts ...[]byte) {
	w.WriteString(preamble + "\r\n")
	for _, p := range parts {
		w.WriteString("--" + boundary + "\r\n")
		w.Write(p)
		// The CRLF before a delimiter belongs to it, not to the part.
		w.WriteString("\r\n")
	}
	w.WriteString("--" + boundary + "--\r\n")
}
