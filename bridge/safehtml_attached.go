package bridge

import (
	"bytes"
	"fmt"
	"strings"
)

// maxSanitizeDepth bounds the nesting of multiparts and attached messages
// sanitizeMessage follows, as mailtext's default limit does (MaxDepth,
// counted the same way: each multipart's parts and each attached message
// one level down). A multipart or attached message at this depth is
// replaced by tooDeep's note: leaving it alone would let a sender hide
// HTML from the sanitiser behind 20 levels of nesting, and hostile input
// must not make the walk recurse without end.
const maxSanitizeDepth = 20

// tooDeepNote is the body of a part nested deeper than maxSanitizeDepth.
const tooDeepNote = "[Umbra left out this part: its MIME parts are nested more than 20 levels deep, too deep to check it for remote images and scripts.]\r\n"

// tooDeep is the entity with header head replaced by a text/plain note:
// its other header fields (a file name, a Content-ID) stay, its content
// goes. Nothing nested that deep comes from a real mail client.
func tooDeep(head []byte) []byte {
	head = setFields(head, []string{"Content-Type", "Content-Transfer-Encoding"},
		"Content-Type", "text/plain; charset=us-ascii", "Content-Transfer-Encoding", "7bit")
	// A header cut short (no body followed) gets the blank line that ends
	// it (RFC 5322 §2.1), so the note is not read as a field.
	switch {
	case bytes.HasSuffix(head, []byte("\n\n")), bytes.HasSuffix(head, []byte("\n\r\n")):
	case bytes.HasSuffix(head, []byte("\n")):
		head = append(head, "\r\n"...)
	default:
		head = append(head, "\r\n\r\n"...)
	}
	return append(head, tooDeepNote...)
}

// sanitizeAttached sanitises the message inside a message/rfc822 (RFC
// 2046 §5.2.1) or message/global (RFC 6532 §3.5) entity: a forwarded
// message, which a client shows, HTML and all, when the reader opens it.
// raw is the entity, its header ending at hdrEnd, cte its
// Content-Transfer-Encoding. The attached message is sanitised as a
// message of its own one level down, so its header is read and kept
// as sanitizeEntity keeps any (only an HTML entity's Content-Type and
// Content-Transfer-Encoding are rewritten), and its attachments stay.
//
// RFC 6532 §3.5 lets message/global be base64 or quoted-printable (RFC
// 2046 forbids it for message/rfc822, but mail clients decode it there
// too, so it is decoded here as well). A changed message is written
// unencoded and the entity's Content-Transfer-Encoding set to what its
// bytes are (7bit, 8bit or binary, RFC 2045 §2.7–2.9): encoding it again
// at every level would let nested quoted-printable grow the output with
// the depth (each "=" three bytes a level), and an identity encoding is
// valid for both types. An unchanged entity keeps every byte.
func sanitizeAttached(raw []byte, hdrEnd int, cte string, depth int) ([]byte, bool, error) {
	inner := raw[hdrEnd:]
	enc := strings.ToLower(strings.TrimSpace(cte))
	encoded := enc == "base64" || enc == "quoted-printable"
	if encoded {
		inner = decodeTransfer(inner, enc)
	}
	clean, changed, err := sanitizeEntity(inner, depth+1)
	if err != nil {
		// Returned: the caller relabels the whole entity text/plain.
		return nil, false, fmt.Errorf("attached message: %w", err)
	}
	if !changed {
		return raw, false, nil
	}
	head := raw[:hdrEnd:hdrEnd]
	if encoded {
		head = setFields(head, []string{"Content-Transfer-Encoding"}, "Content-Transfer-Encoding", identityEncoding(clean))
	}
	return append(head, clean...), true, nil
}

// identityEncoding names the identity Content-Transfer-Encoding that b
// fits (RFC 2045 §2.7–2.9): 7bit for short lines of US-ASCII, 8bit when
// it has other bytes, binary when it has a NUL or a line over 998 octets.
func identityEncoding(b []byte) string {
	enc := "7bit"
	for line := range bytes.Lines(b) {
		if len(bytes.TrimRight(line, "\r\n")) > 998 || bytes.IndexByte(line, 0) >= 0 {
			return "binary"
		}
		if enc == "7bit" && bytes.ContainsFunc(line, func(r rune) bool { return r >= 0x80 }) {
			enc = "8bit"
		}
	}
	return enc
}
