package dmtp

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a DMTP error reply: the server sends it, the client returns it.
//
// A Backend returns an *Error (possibly wrapped) to choose the exact reply;
// any other error becomes "451 4.3.0" with a generic text, so internals
// never reach the peer. The Client returns every 4xx and 5xx reply as an
// *Error, so a caller tells a temporary failure (retry later) from a
// permanent one (bounce) with Temporary (docs/spec/dmtp.md §6).
type Error struct {
	Code     int    // reply code, 400 to 599 (RFC 5321 §4.2)
	Enhanced string // enhanced status code "class.subject.detail" (RFC 3463), class matching Code; may be empty
	Message  string // printable ASCII, without the codes
}

func (e *Error) Error() string {
	if e.Enhanced == "" {
		return fmt.Sprintf("dmtp: %d %s", e.Code, e.Message)
	}
	return fmt.Sprintf("dmtp: %d %s %s", e.Code, e.Enhanced, e.Message)
}

// Temporary reports whether the reply is a 4xx one: the same command may
// succeed later.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// maxMessage bounds an error's text so that its reply line stays within
// MaxLineLength with room for the codes.
const maxMessage = 400

// valid reports whether e can be sent as a reply line (spec §6).
func (e *Error) valid() bool {
	if e.Code < 400 || e.Code > 599 || len(e.Message) > maxMessage {
		return false
	}
	if e.Enhanced != "" && !validEnhanced(e.Enhanced, e.Code/100) {
		return false
	}
	for i := 0; i < len(e.Message); i++ {
		if c := e.Message[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// validEnhanced checks "class.subject.detail": class is the reply code's
// first digit, subject and detail 1 to 3 digits each (RFC 3463 §2).
func validEnhanced(s string, class int) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != strconv.Itoa(class) {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// reply is one reply as the client reads it: a code and the text of each
// line, without the code and separator.
type reply struct {
	code  int
	lines []string
}

// Reply parse errors: the peer is not speaking DMTP and the client gives
// the connection up.
var errBadReply = errors.New("dmtp: malformed reply")

// readReply reads one reply, single- or multi-line (RFC 5321 §4.2.1): lines
// `code "-" text` followed by a last line `code [SP text]`, every line with
// the same code, at most maxReplyLines lines, each at most MaxLineLength
// bytes, and no control characters or invalid UTF-8 in the text.
func readReply(r *bufio.Reader) (*reply, error) {
	var rep reply
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, fmt.Errorf("dmtp: read reply: %w", err)
		}
		if len(rep.lines) == maxReplyLines {
			return nil, fmt.Errorf("%w: more than %d lines", errBadReply, maxReplyLines)
		}
		code, last, text, err := parseReplyLine(line)
		if err != nil {
			return nil, err
		}
		if len(rep.lines) > 0 && code != rep.code {
			return nil, fmt.Errorf("%w: code %d within a %d reply", errBadReply, code, rep.code)
		}
		rep.code = code
		rep.lines = append(rep.lines, text)
		if last {
			return &rep, nil
		}
	}
}

func parseReplyLine(line string) (code int, last bool, text string, err error) {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' || line[2] < '0' || line[2] > '9' {
		return 0, false, "", fmt.Errorf("%w: line %.40q does not start with a reply code", errBadReply, line)
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	switch {
	case len(line) == 3:
		return code, true, "", nil
	case line[3] == ' ':
		last = true
	case line[3] == '-':
	default:
		return 0, false, "", fmt.Errorf("%w: line %.40q: expected ' ' or '-' after the code", errBadReply, line)
	}
	text = line[4:]
	for i := 0; i < len(text); i++ {
		if c := text[i]; c < 0x20 || c == 0x7f {
			return 0, false, "", fmt.Errorf("%w: control character in reply text", errBadReply)
		}
	}
	if !utf8.ValidString(text) {
		return 0, false, "", fmt.Errorf("%w: reply text is not UTF-8", errBadReply)
	}
	return code, last, text, nil
}

// asError turns a reply into an *Error, taking the enhanced status code
// off the front of the text when there is one of the reply's class.
func (r *reply) asError() *Error {
	e := &Error{Code: r.code}
	texts := make([]string, 0, len(r.lines))
	for i, t := range r.lines {
		if first, rest, _ := strings.Cut(t, " "); validEnhanced(first, r.code/100) {
			if i == 0 {
				e.Enhanced = first
			}
			t = rest
		}
		texts = append(texts, t)
	}
	e.Message = strings.Join(texts, "; ")
	return e
}

// text is the text of a reply the client parses (SIGNET, HISTORY, CURRENT,
// UPDATE, LOG; spec §5): such replies are always single-line.
func (r *reply) text() (string, error) {
	if len(r.lines) != 1 {
		return "", fmt.Errorf("%w: %d-line %d reply where one line was expected", errBadReply, len(r.lines), r.code)
	}
	return r.lines[0], nil
}

// parseFrameHeader parses `keyword SP size` (spec §2.3) with size from 0
// to max, canonical decimal.
func parseFrameHeader(text, keyword string, max int64) (int64, error) {
	s, ok := strings.CutPrefix(text, keyword+" ")
	if !ok {
		return 0, fmt.Errorf("%w: expected %q, got %.40q", errBadReply, keyword+" <size>", text)
	}
	if s == "0" {
		return 0, nil
	}
	n, err := parseSize(s)
	if err != nil || n > max {
		return 0, fmt.Errorf("%w: %s size %.40q is not a number from 0 to %d", errBadReply, keyword, s, max)
	}
	return n, nil
}
