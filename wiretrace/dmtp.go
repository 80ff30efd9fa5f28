package wiretrace

import (
	"bytes"
	"strconv"
)

// DMTP is the Protocol of a DMTP connection, at either end
// (docs/spec/dmtp.md): its binary frames (§2.3) are data. A client's "DATA <size>" announces
// size bytes, which follow only once the server has answered 354 (§5.4);
// a server's "SIGNET <size>" (SGNT, HIST) and "LOG <size>" lines are
// followed by that many bytes at once. DMTP carries no secrets: its lines
// are shown whole.
func DMTP() Protocol { return new(dmtpProtocol) }

type dmtpProtocol struct {
	pending int64 // the size of the client's DATA waiting for 354
}

func (p *dmtpProtocol) Client(line []byte) (string, int64) {
	if verb, size, ok := sizeLine(line); ok && verb == "DATA" {
		p.pending = size
	} else {
		p.pending = 0
	}
	return string(line), 0
}

func (p *dmtpProtocol) Server(line []byte) (string, int64, int64) {
	var clientData int64
	if bytes.HasPrefix(line, []byte("354")) {
		clientData = p.pending
	}
	if !bytes.HasPrefix(line, []byte("3")) {
		p.pending = 0
	}
	// "250 SIGNET 123", "SIGNET 123" within a HISTORY answer, "250 LOG 123".
	rest := bytes.TrimPrefix(line, []byte("250 "))
	if verb, size, ok := sizeLine(rest); ok && (verb == "SIGNET" || verb == "LOG") {
		return string(line), size, clientData
	}
	return string(line), 0, clientData
}

// sizeLine splits "KEYWORD <size>" (§2.3), the keyword in upper case.
func sizeLine(line []byte) (string, int64, bool) {
	verb, num, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return string(bytes.ToUpper(verb)), n, true
}
