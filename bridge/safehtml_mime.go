package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"path"
	"slices"
	"strings"

	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"

	"umbra/bridge/mailstore"
	"umbra/mailtext"
)

// Safe-HTML settings (docs/spec/spam.md §5), stored under safeHTMLState.
const (
	SafeHTMLLegacy = "legacy" // legacy mail only (the default): its sender is unknown
	SafeHTMLAll    = "all"    // dark mail from validated senders too
	SafeHTMLOff    = "off"
)

// loadSafeHTML reads the safe-HTML setting, first storing Config.SafeHTML
// when given (the pattern of dark only, darkonly.go).
func (b *Bridge) loadSafeHTML(ctx context.Context) error {
	if v := b.cfg.SafeHTML; v != nil {
		switch *v {
		case SafeHTMLLegacy, SafeHTMLAll, SafeHTMLOff:
		default:
			return fmt.Errorf("bridge: safe html: %q is none of legacy, all, off", *v)
		}
		if err := b.store.SetState(ctx, safeHTMLState, []byte(*v)); err != nil {
			return fmt.Errorf("bridge: safe html: %w", err)
		}
	}
	v, err := b.store.GetState(ctx, safeHTMLState)
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return fmt.Errorf("bridge: safe html: %w", err)
	}
	if len(v) == 0 {
		v = []byte(SafeHTMLLegacy)
	}
	b.safeHTML.Store(string(v))
	return nil
}

// SafeHTML is the account's safe-HTML setting.
func (b *Bridge) SafeHTML() string { s, _ := b.safeHTML.Load().(string); return s }

// safeHTMLFor says whether HTML of a dark (or legacy) message is made safe.
func (b *Bridge) safeHTMLFor(dark bool) bool {
	switch b.SafeHTML() {
	case SafeHTMLAll:
		return true
	case SafeHTMLOff:
		return false
	}
	return !dark
}

// sanitizeMessage makes every text/html part of a message safe
// (sanitizeHTML), those of attached messages included
// (safehtml_attached.go), and leaves every other byte as it was: multipart
// boundaries, other parts and header fields. A changed part is written
// again as quoted-printable in its own charset, since the sanitiser keeps
// text bytes as they are; a UTF-16 part, whose markup is not ASCII, is
// converted to UTF-8 first. changed is false when nothing needed to go.
//
// It fails closed: an entity it cannot read (a header go-message refuses)
// is relabelled text/plain, so that no client renders HTML the sanitiser
// did not see; err then says why.
func sanitizeMessage(msg []byte) (out []byte, changed bool, err error) {
	out, changed, err = sanitizeEntity(msg, 0)
	if err != nil {
		return plainOnly(msg), true, err
	}
	return out, changed, nil
}

// plainOnly relabels an entity text/plain. One without the blank line
// that ends a header (a part of text lines only) becomes a text/plain
// entity of all its bytes: taken for a header, they would leave the part
// without a body and the whole message unreadable to a strict reader
// (go-message).
func plainOnly(raw []byte) []byte {
	if end := headerEnd(raw); end == len(raw) && len(bytes.TrimSpace(raw)) > 0 && !bytes.HasSuffix(raw, []byte("\n\n")) && !bytes.HasSuffix(raw, []byte("\n\r\n")) {
		return append([]byte("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"), raw...)
	}
	return setFields(raw, []string{"Content-Type", "Content-Transfer-Encoding"}, "Content-Type", "text/plain; charset=utf-8", "Content-Transfer-Encoding", "8bit")
}

func sanitizeEntity(raw []byte, depth int) ([]byte, bool, error) {
	hdrEnd := headerEnd(raw)
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw[:hdrEnd])))
	if err != nil {
		return nil, false, fmt.Errorf("header: %w", err)
	}
	body := raw[hdrEnd:]
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain" // RFC 2045 §5.2: the default for a missing or broken one
	}
	disp, _, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	multipart := strings.HasPrefix(mt, "multipart/") && params["boundary"] != ""
	attached := mt == "message/rfc822" || mt == "message/global"
	switch {
	case (multipart || attached) && depth >= maxSanitizeDepth:
		return tooDeep(raw[:hdrEnd]), true, nil
	case attached:
		return sanitizeAttached(raw, hdrEnd, h.Get("Content-Transfer-Encoding"), depth)
	case multipart:
		nb, changed, err := sanitizeMultipart(body, params["boundary"], depth)
		if err != nil || !changed {
			return raw, false, err
		}
		return append(raw[:hdrEnd:hdrEnd], nb...), true, nil
	case mt == "text/html" && disp != "attachment":
		text := decodeTransfer(body, h.Get("Content-Transfer-Encoding"))
		cs := strings.ToLower(params["charset"])
		if strings.HasPrefix(cs, "utf-16") || strings.HasPrefix(cs, "utf-32") {
			r, err := charset.Reader(cs, bytes.NewReader(text))
			if err != nil {
				return nil, false, err
			}
			if text, err = io.ReadAll(r); err != nil {
				return nil, false, err
			}
			params["charset"] = "utf-8"
		}
		clean, blocked := sanitizeHTML(text)
		if blocked == 0 && bytes.Equal(clean, text) {
			return raw, false, nil
		}
		var qp bytes.Buffer
		w := quotedprintable.NewWriter(&qp)
		w.Write(clean) // writes to a bytes.Buffer cannot fail
		w.Close()
		head := setFields(raw[:hdrEnd], []string{"Content-Type", "Content-Transfer-Encoding"},
			"Content-Type", mime.FormatMediaType(mt, params), "Content-Transfer-Encoding", "quoted-printable")
		return append(head, qp.Bytes()...), true, nil
	}
	return raw, false, nil
}

// headerEnd is the offset just past the blank line ending the header,
// or len(raw) when there is none.
func headerEnd(raw []byte) int {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return len(raw)
		}
		line := raw[i : i+j+1]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return i + j + 1
		}
		i += j + 1
	}
	return len(raw)
}

// sanitizeMultipart sanitises each part between the delimiter lines of a
// multipart body (RFC 2046 §5.1.1), keeping the preamble, the delimiters
// and the epilogue as they are.
func sanitizeMultipart(body []byte, boundary string, depth int) ([]byte, bool, error) {
	delim := []byte("--" + boundary)
	var out []byte
	changed := false
	partStart := -1
	for i := 0; i < len(body); {
		j := bytes.IndexByte(body[i:], '\n')
		end := len(body)
		if j >= 0 {
			end = i + j + 1
		}
		line := body[i:end]
		if bytes.HasPrefix(line, delim) && len(bytes.TrimRight(line[len(delim):], " \t\r\n-")) == 0 {
			if partStart >= 0 {
				// The CRLF before a delimiter belongs to it.
				p := body[partStart:i]
				tail := p[len(bytes.TrimRight(p, "\r\n")):]
				if len(tail) > 2 {
					tail = tail[len(tail)-2:]
				}
				p = p[:len(p)-len(tail)]
				np, c, err := sanitizeEntity(p, depth+1)
				if err != nil {
					np, c = plainOnly(p), true // fail closed
				}
				changed = changed || c
				tail, c = crlfEnd(tail)
				changed = changed || c
				out = append(append(out, np...), tail...)
			}
			line, c := crlfEnd(line)
			changed = changed || c
			out = append(out, line...)
			partStart = end
			if bytes.HasPrefix(line[len(delim):], []byte("--")) {
				return append(out, body[end:]...), changed, nil
			}
		} else if partStart < 0 {
			out = append(out, line...)
		}
		i = end
	}
	if partStart >= 0 && partStart < len(body) {
		np, c, err := sanitizeEntity(body[partStart:], depth+1)
		if err != nil {
			np, c = plainOnly(body[partStart:]), true
		}
		changed = changed || c
		out = append(out, np...)
	}
	return out, changed, nil
}

// crlfEnd ends b, a delimiter line or the line break before one, in CRLF
// where it ends in a bare LF, and reports whether it did. Mail readers
// disagree on a delimiter next to a bare LF (go-message, and so aerc,
// takes none; others take it as this parser does), so a message could
// hide a <script> from the sanitiser in what one reader takes for a
// text/plain part and another for the rest of an HTML part. Written in
// CRLF, the delimiter is one for every reader, where the sanitiser saw
// one.
func crlfEnd(b []byte) ([]byte, bool) {
	if !bytes.HasSuffix(b, []byte("\n")) || bytes.HasSuffix(b, []byte("\r\n")) {
		return b, false
	}
	return append(b[:len(b)-1:len(b)-1], '\r', '\n'), true
}

// decodeTransfer undoes a Content-Transfer-Encoding (RFC 2045 §6) the
// lenient way mail clients do: a broken =XX or a stray character is taken
// as it stands, not refused. A strict decoder would leave a part it
// refuses unsanitised, while a client renders it anyway.
func decodeTransfer(body []byte, cte string) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return decodeQP(body)
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' {
				return r
			}
			return -1
		}, body)
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1] // a lone sextet is no byte
		}
		out, _ := base64.RawStdEncoding.DecodeString(string(clean)) // only valid characters, a valid length: cannot fail
		return out
	}
	return body
}

// decodeQP decodes quoted-printable (RFC 2045 §6.7), keeping any = that
// does not start a soft line break or two hex digits.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		rest := b[i+1:]
		switch {
		case bytes.HasPrefix(rest, []byte("\r\n")):
			i += 2
		case bytes.HasPrefix(rest, []byte("\n")):
			i++
		case len(rest) >= 2 && isHex(rest[0]) && isHex(rest[1]):
			out = append(out, unhex(rest[0])<<4|unhex(rest[1]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// riskyExt are attachment types that run code when opened, or mount
// images that hold such files.
var riskyExt = []string{
	"exe", "scr", "js", "jse", "vbs", "vbe", "bat", "cmd", "com", "pif", "jar", "msi", "ps1", "lnk",
	"iso", "img", "hta", "wsf", "reg", "html", "htm", "svg", "docm", "xlsm", "pptm", "dotm", "xltm",
}

// riskyAttachments names the attachments of a risky type, for
// RiskyHeader: "a.exe, b.js"; "" when there are none.
func riskyAttachments(atts []mailtext.Attachment) string {
	var names []string
	for _, a := range atts {
		ext := strings.ToLower(strings.TrimPrefix(path.Ext(a.Filename), "."))
		if slices.Contains(riskyExt, ext) {
			names = append(names, mime.QEncoding.Encode("utf-8", oneLine(strings.ReplaceAll(a.Filename, ",", "_"))))
		}
	}
	return strings.Join(names, ", ")
}
