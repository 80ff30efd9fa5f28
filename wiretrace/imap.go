package wiretrace

import (
	"bytes"
	"strconv"
)

// IMAP is the Protocol of an IMAP server's connection (RFC 9051, RFC
// 3501). Literals are data: a client's synchronising literal "{n}"
// follows the server's "+" continuation, a non-synchronising one "{n+}"
// (RFC 7888) follows at once, and the server's literals (a FETCH's
// BODY[]) at once; "~{n}" (RFC 3516) likewise. A LOGIN's arguments and
// an AUTHENTICATE's initial response and SASL exchange (RFC 9051 §6.2.2)
// are redacted, through every line and literal of the command.
func IMAP() Protocol { return new(imapProtocol) }

type imapProtocol struct {
	pending int64 // a synchronising literal waiting for "+"
	// cont: the client's last line ended in a literal, so its next line
	// goes on with the same command; secret: that command is a LOGIN or
	// an AUTHENTICATE.
	cont, secret bool
	// sasl: an AUTHENTICATE is under way, and the client's lines are its
	// SASL responses until the server's next line that is not a "+".
	sasl bool
}

func (p *imapProtocol) Client(line []byte) (string, int64) {
	show := string(line)
	switch {
	case p.sasl && !p.cont:
		show = Redacted
	case p.cont:
		if p.secret {
			show = Redacted
		}
	default:
		p.secret = false
		// tag SP command [SP arguments]
		fields := bytes.SplitN(line, []byte(" "), 4)
		if len(fields) >= 2 {
			switch string(bytes.ToUpper(fields[1])) {
			case "LOGIN":
				p.secret = true
				show = string(fields[0]) + " " + string(fields[1]) + " " + Redacted
			case "AUTHENTICATE":
				p.secret, p.sasl = true, true
				show = string(bytes.Join(fields[:min(len(fields), 3)], []byte(" ")))
				if len(fields) > 3 {
					show += " " + Redacted
				}
			}
		}
	}
	n, sync, ok := literalAtEnd(line)
	p.cont, p.pending = ok, 0
	if !ok {
		return show, 0
	}
	if sync {
		p.pending = n
		return show, 0
	}
	return show, n
}

func (p *imapProtocol) Server(line []byte) (string, int64, int64) {
	var clientData int64
	switch {
	case bytes.HasPrefix(line, []byte("+")):
		clientData, p.pending = p.pending, 0
	case bytes.HasPrefix(line, []byte("*")):
		p.sasl = false
	default:
		// A tagged answer ends the command: a literal it refused is not
		// sent.
		p.sasl, p.pending = false, 0
	}
	if n, _, ok := literalAtEnd(line); ok {
		return string(line), n, clientData
	}
	return string(line), 0, clientData
}

// literalAtEnd finds a literal's announcement at the end of a line:
// "{n}" (sync), "{n+}" or "{n-}" (RFC 7888), each perhaps after "~"
// (RFC 3516).
func literalAtEnd(line []byte) (n int64, sync, ok bool) {
	if !bytes.HasSuffix(line, []byte("}")) {
		return 0, false, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false, false
	}
	num := line[open+1 : len(line)-1]
	sync = true
	if bytes.HasSuffix(num, []byte("+")) || bytes.HasSuffix(num, []byte("-")) {
		num, sync = num[:len(num)-1], false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || n < 0 || len(num) == 0 || num[0] == '+' {
		return 0, false, false
	}
	return n, sync, true
}
