package bridge

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// SecurityHeader is the header field every message served over IMAP
// carries: the bridge's verdict on how the message reached the user. A
// sender cannot forge it: stamp removes any copy from the message's own
// header before adding the bridge's.
const SecurityHeader = "Umbra-Security"

// maxHeaderScan bounds how far stamp looks for the end of the header
// section; a header block longer than this is treated as all body, and
// the verdict is still prepended.
const maxHeaderScan = 1 << 20

// Verdicts for messages that did not arrive as verified D/MIME.
const (
	verdictOwn      = "encrypted; signed=%s; key=own"
	verdictAppended = "local; appended by a mail client; not verified"
	verdictNotice   = "local; notice from the Umbra bridge"
)

// stamp returns mime with every Umbra-Security field of its top-level
// header removed (with its continuation lines, RFC 5322 §2.2.3) and one
// field with verdict prepended. It never fails: input that is not a
// well-formed message keeps its bytes after the new field.
func stamp(mime []byte, verdict string) []byte {
	return setFields(mime, []string{SecurityHeader}, SecurityHeader, verdict)
}

// setFields returns mime with every field named in drop removed from its
// top-level header and the fields given as name, value pairs prepended in
// that order: how the bridge adds the fields only it may write
// (Umbra-Security, X-Umbra-Spam, X-Umbra-Risky-Attachment) so that a
// sender's copy of one never reaches a client.
func setFields(mime []byte, drop []string, fields ...string) []byte {
	n := len(mime)
	for _, f := range fields {
		n += len(f) + 2
	}
	out := make([]byte, 0, n)
	for i := 0; i+1 < len(fields); i += 2 {
		out = fmt.Appendf(out, "%s: %s\r\n", fields[i], oneLine(fields[i+1]))
	}
	added := len(out)
	rest := mime
	dropping := false
	for len(rest) > 0 && len(out)-added < maxHeaderScan {
		n := bytes.IndexByte(rest, '\n') + 1
		if n == 0 {
			n = len(rest)
		}
		line := rest[:n]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break // the blank line that ends the header
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !dropping {
				out = append(out, line...)
			}
		} else {
			name, _, ok := bytes.Cut(line, []byte(":"))
			dropping = ok && slices.ContainsFunc(drop, func(d string) bool {
				return strings.EqualFold(string(bytes.TrimRight(name, " \t")), d)
			})
			if !dropping {
				out = append(out, line...)
			}
		}
		rest = rest[n:]
	}
	return append(out, rest...)
}

// oneLine turns line breaks into spaces, so a value cannot start a field
// of its own.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}
