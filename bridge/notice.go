package bridge

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
	"time"
)

// noticeMIME is a message from the bridge itself to the user.
func noticeMIME(subject, body string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Umbra bridge <bridge@localhost>\r\n")
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(body)
	return stamp(b.Bytes(), verdictNotice)
}

// headerValue is the first value of a top-level header field, unfolded
// and with RFC 2047 encoded words decoded where possible.
func headerValue(msg []byte, name string) string {
	header, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	var val []byte
	in := false
	for _, line := range bytes.Split(header, []byte("\r\n")) {
		switch {
		case in && len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
			val = append(val, line...)
		case in:
			in = false
		default:
			if n, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(strings.TrimSpace(string(n)), name) && val == nil {
				val, in = append([]byte{}, v...), true
			}
		}
	}
	s := strings.TrimSpace(string(val))
	if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		return d
	}
	return s
}
