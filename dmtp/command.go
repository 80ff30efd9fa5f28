package dmtp

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"umbra/signet"
)

// command is one parsed command line (docs/spec/dmtp.md §4). The parser
// and String are exact inverses: String of a parsed command parses back to
// the same command, and the client builds its lines with String.
type command struct {
	verb string             // upper case, one of the verbs of spec §4
	arg  string             // EHLO, MAIL, RCPT: domain; SGNT, VRFY: address or domain; HIST: address; LOG: argument text
	fp   signet.Fingerprint // the FP= parameter, or HIST's start; zero when absent
	stop signet.Fingerprint // HIST's stop; zero when absent
	size int64              // DATA's size
}

// maxSizeDigits keeps a DATA size inside int64 (spec §4: 1*18DIGIT).
const maxSizeDigits = 18

func syntaxError(enhanced, msg string) *Error {
	return &Error{Code: 501, Enhanced: enhanced, Message: msg}
}

// Parse errors. The texts are fixed so that a reply never echoes what the
// peer sent.
var (
	errEmptyLine  = &Error{Code: 500, Enhanced: "5.5.2", Message: "empty command line"}
	errBadChars   = &Error{Code: 500, Enhanced: "5.5.2", Message: "control character or invalid UTF-8 in command line"}
	errUnknown    = &Error{Code: 500, Enhanced: "5.5.1", Message: "command not recognized"}
	errNoArgument = syntaxError("5.5.4", "this command takes no argument")
	errBadDomain  = syntaxError("5.5.4", "invalid domain (lower-case A-labels, at least two labels)")
	errBadName    = syntaxError("5.5.4", "invalid address or domain")
	errBadAddress = syntaxError("5.5.4", "invalid address")
	errBadFP      = syntaxError("5.5.4", "invalid fingerprint (43 characters of canonical unpadded base64url, not all zero)")
	errBadParam   = syntaxError("5.5.4", "unknown or malformed parameter (only FP=<fingerprint>)")
	errBadSize    = syntaxError("5.5.4", "DATA size must be a decimal number from 1, without leading zeros, at most 18 digits")
	errBadHist    = syntaxError("5.5.4", "HIST takes an address and up to two fingerprints")
	errBadLogArgs = syntaxError("5.5.4", "LOG argument must not be empty after a space")
)

// parseCommand parses one command line, CRLF already removed. Its errors are
// *Error values carrying the reply the server sends (500 for a line that is
// not a command, 501 for bad arguments).
func parseCommand(line string) (command, error) {
	if line == "" {
		return command{}, errEmptyLine
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 || c == 0x7f {
			return command{}, errBadChars
		}
	}
	if !utf8.ValidString(line) {
		return command{}, errBadChars
	}
	verb, rest, hasRest := strings.Cut(line, " ")
	c := command{verb: asciiUpper(verb)}
	var err error
	switch c.verb {
	case "EHLO":
		if !hasRest || signet.CheckDomain(rest) != nil {
			return command{}, errBadDomain
		}
		c.arg = rest
	case "MAIL":
		// Domains only, never account names (DESIGN §2): RFC 3463 X.1.7 is
		// "bad sender's mailbox address syntax".
		c.arg, c.fp, err = parsePath(rest, "FROM:", syntaxError("5.1.7", "MAIL FROM takes the origin domain, never an address"))
	case "RCPT":
		// X.1.3 is "bad destination mailbox address syntax".
		c.arg, c.fp, err = parsePath(rest, "TO:", syntaxError("5.1.3", "RCPT TO takes the destination domain, never an address"))
	case "DATA":
		c.size, err = parseSize(rest)
	case "SGNT", "VRFY":
		name, params, _ := strings.Cut(rest, " ")
		if err = checkName(name); err == nil {
			c.arg = name
			c.fp, err = parseParams(params, len(rest) > len(name))
		}
	case "HIST":
		c.arg, c.fp, c.stop, err = parseHist(rest)
	case "LOG":
		// The argument grammar belongs to the transparency log's spec
		// (spec §5.9); here it is any printable text.
		if hasRest && rest == "" {
			return command{}, errBadLogArgs
		}
		c.arg = rest
	case "RSET", "NOOP", "HELP", "QUIT":
		if hasRest {
			return command{}, errNoArgument
		}
	default:
		return command{}, errUnknown
	}
	if err != nil {
		return command{}, err
	}
	return c, nil
}

// String formats the command as its line, without CRLF.
func (c command) String() string {
	switch c.verb {
	case "EHLO":
		return "EHLO " + c.arg
	case "MAIL":
		return "MAIL FROM:<" + c.arg + ">" + fpParam(c.fp)
	case "RCPT":
		return "RCPT TO:<" + c.arg + ">" + fpParam(c.fp)
	case "DATA":
		return "DATA " + strconv.FormatInt(c.size, 10)
	case "SGNT", "VRFY":
		return c.verb + " " + c.arg + fpParam(c.fp)
	case "HIST":
		s := "HIST " + c.arg
		if !c.fp.IsZero() {
			s += " " + c.fp.String()
			if !c.stop.IsZero() {
				s += " " + c.stop.String()
			}
		}
		return s
	case "LOG":
		if c.arg == "" {
			return "LOG"
		}
		return "LOG " + c.arg
	default:
		return c.verb
	}
}

func fpParam(fp signet.Fingerprint) string {
	if fp.IsZero() {
		return ""
	}
	return " FP=" + fp.String()
}

// parsePath parses `FROM:<domain> [FP=fp]` or `TO:<domain> [FP=fp]`.
// An address between the brackets gets errAddress, anything else that is
// not a canonical domain errBadDomain.
func parsePath(rest, keyword string, errAddress *Error) (string, signet.Fingerprint, error) {
	var zero signet.Fingerprint
	if !hasPrefixFold(rest, keyword+"<") {
		return "", zero, syntaxError("5.5.4", "expected "+keyword+"<domain>")
	}
	domain, params, ok := strings.Cut(rest[len(keyword)+1:], ">")
	if !ok {
		return "", zero, syntaxError("5.5.4", "missing '>' after the domain")
	}
	if strings.Contains(domain, "@") {
		return "", zero, errAddress
	}
	if signet.CheckDomain(domain) != nil {
		return "", zero, errBadDomain
	}
	if params != "" && params[0] != ' ' {
		return "", zero, errBadParam
	}
	fp, err := parseParams(strings.TrimPrefix(params, " "), params != "")
	return domain, fp, err
}

// parseParams parses the optional ` FP=<fingerprint>` after a name; s is
// the text after the separating space, present tells whether there was one.
func parseParams(s string, present bool) (signet.Fingerprint, error) {
	var zero signet.Fingerprint
	if !present {
		return zero, nil
	}
	if !hasPrefixFold(s, "FP=") {
		return zero, errBadParam
	}
	return parseFP(s[len("FP="):])
}

// parseFP accepts only the canonical machine form of a fingerprint
// (signet.Fingerprint.String), so that each fingerprint has one spelling on
// the wire, and refuses the all-zero value, which stands for "absent".
func parseFP(s string) (signet.Fingerprint, error) {
	var zero signet.Fingerprint
	if len(s) != 43 {
		return zero, errBadFP
	}
	fp, err := signet.ParseFingerprint(s)
	if err != nil || fp.IsZero() || fp.String() != s {
		return zero, errBadFP
	}
	return fp, nil
}

func parseSize(s string) (int64, error) {
	if len(s) == 0 || len(s) > maxSizeDigits || s[0] == '0' {
		return 0, errBadSize
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errBadSize
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errBadSize
	}
	return n, nil
}

// checkName accepts an address (it contains '@') or a domain.
func checkName(name string) error {
	if strings.Contains(name, "@") {
		if signet.CheckAddress(name) != nil {
			return errBadName
		}
		return nil
	}
	if signet.CheckDomain(name) != nil {
		return errBadName
	}
	return nil
}

// parseHist parses `address [start-fp [stop-fp]]`.
func parseHist(rest string) (string, signet.Fingerprint, signet.Fingerprint, error) {
	var start, stop signet.Fingerprint
	fields := strings.Split(rest, " ")
	if len(fields) > 3 {
		return "", start, stop, errBadHist
	}
	if signet.CheckAddress(fields[0]) != nil {
		return "", start, stop, errBadAddress
	}
	var err error
	if len(fields) > 1 {
		if start, err = parseFP(fields[1]); err != nil {
			return "", start, stop, err
		}
	}
	if len(fields) > 2 {
		if stop, err = parseFP(fields[2]); err != nil {
			return "", start, stop, err
		}
	}
	return fields[0], start, stop, nil
}

// asciiUpper upper-cases ASCII letters only: verbs and keywords are ASCII
// and case-insensitive (RFC 5321 §2.4), and Unicode case mapping must not
// turn some other character into one.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && asciiUpper(s[:len(prefix)]) == prefix
}
