package mailtext

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
)

// maxSegments bounds the continuations of one parameter (RFC 2231 §3).
const maxSegments = 1000

// mimeParams parses a Content-Type or Content-Disposition value: the
// lower-case value before the first ";" and its parameters, keys lower
// case, values decoded. Unlike mime.ParseMediaType it takes RFC 2231
// values in any charset (not UTF-8 only), decodes encoded words in plain
// values, and keeps the parameters it could read from damaged input; err
// reports the damage.
func mimeParams(s string) (value string, params map[string]string, err error) {
	v, rest, _ := strings.Cut(s, ";")
	value = strings.ToLower(strings.TrimSpace(v))
	params = map[string]string{}
	type segment struct {
		n     int
		ext   bool // percent-encoded, RFC 2231 §4
		value string
	}
	segs := map[string][]segment{}
	for rest = strings.TrimLeft(rest, " \t\r\n;"); rest != ""; rest = strings.TrimLeft(rest, " \t\r\n;") {
		key, val, r, perr := nextParam(rest)
		rest = r
		if perr != nil {
			err = perr
			continue
		}
		name, sn, hasN := strings.Cut(key, "*")
		seg := segment{ext: strings.HasSuffix(key, "*"), value: val}
		if hasN {
			sn = strings.TrimSuffix(sn, "*")
			if sn != "" {
				n, convErr := strconv.Atoi(sn)
				if convErr != nil || n < 0 || n >= maxSegments {
					err = fmt.Errorf("parameter %q: bad continuation number", key)
					continue
				}
				seg.n = n
			}
		}
		if len(segs[name]) < maxSegments {
			segs[name] = append(segs[name], seg)
		}
	}
	for name, ss := range segs {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].n < ss[j].n })
		var buf strings.Builder
		charset := ""
		extended := false
		for i, sg := range ss {
			if !sg.ext {
				buf.WriteString(sg.value)
				continue
			}
			extended = true
			val := sg.value
			if i == 0 {
				// charset'language'value (RFC 2231 §4)
				if parts := strings.SplitN(val, "'", 3); len(parts) == 3 {
					charset, val = strings.ToLower(parts[0]), parts[2]
				}
			}
			if u, uerr := url.PathUnescape(val); uerr == nil {
				val = u
			}
			buf.WriteString(val)
		}
		if extended {
			params[name] = decodeCharset(charset, buf.String())
		} else {
			params[name] = decodeWords(buf.String())
		}
	}
	if err != nil {
		err = fmt.Errorf("parameters: %w", err)
	}
	return value, params, err
}

// nextParam reads one key=value from s: a token key and a token or
// quoted-string value (RFC 2045 §5.1), and returns what follows.
// A parameter without "=" is skipped, with an error.
func nextParam(s string) (key, val, rest string, err error) {
	i := strings.IndexAny(s, "=;")
	if i < 0 {
		return "", "", "", fmt.Errorf("parameter %q has no value", s)
	}
	if s[i] == ';' {
		return "", "", s[i+1:], fmt.Errorf("parameter %q has no value", s[:i])
	}
	key, after := strings.ToLower(strings.TrimSpace(s[:i])), s[i+1:]
	after = strings.TrimLeft(after, " \t\r\n")
	if !strings.HasPrefix(after, `"`) {
		v, r, _ := strings.Cut(after, ";")
		return key, strings.TrimSpace(v), r, nil
	}
	var b strings.Builder
	for i := 1; i < len(after); i++ {
		switch c := after[i]; c {
		case '\\':
			if i+1 < len(after) {
				i++
				b.WriteByte(after[i])
			}
		case '"':
			return key, b.String(), after[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	// An unterminated quoted string runs to the end, as mail readers take it.
	return key, b.String(), "", nil
}

// decodeCharset converts s from charset to UTF-8; s unchanged (made
// valid UTF-8) when the charset is unknown.
func decodeCharset(charset, s string) string {
	switch charset {
	case "", "utf-8", "us-ascii":
		return toUTF8([]byte(s))
	}
	r, err := message.CharsetReader(charset, bytes.NewReader([]byte(s)))
	if err != nil {
		return toUTF8([]byte(s))
	}
	d, err := io.ReadAll(r)
	if err != nil {
		return toUTF8([]byte(s))
	}
	return toUTF8(d)
}

// decodeWords decodes RFC 2047 encoded words in s.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return toUTF8([]byte(s))
	}
	d := mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "utf-8", "us-ascii":
			return input, nil
		}
		return message.CharsetReader(charset, input)
	}}
	out, err := d.DecodeHeader(s)
	if err != nil {
		return toUTF8([]byte(s))
	}
	return toUTF8([]byte(out))
}
