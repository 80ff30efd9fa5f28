package dmtp

import (
	"bufio"
	"errors"
	"io"
	"umbra/signet"
)

// Protocol constants (docs/spec/dmtp.md §2 and §7).
const (
	// Version is the protocol version a server announces in its greeting
	// and in its EHLO reply.
	Version = "DMTPv1"

	// DefaultPort is the TCP port of DMTP (DESIGN §9).
	DefaultPort = "26"

	// ALPN is the TLS application protocol name both halves offer, so a
	// TLS endpoint for another protocol cannot be confused with a DMTP one
	// (RFC 7301; the ALPACA cross-protocol attack).
	ALPN = "dmtp/1"

	// MaxLineLength bounds every command and reply line, CRLF included
	// (the limit of RFC 5321 §4.5.3.1.4 for command lines).
	MaxLineLength = 512

	// MaxSignetSize bounds one signet in a SGNT or HIST reply. It equals
	// the limit on an encoded signet (docs/spec/signet.md §2).
	MaxSignetSize = signet.MaxSize

	// MaxHistory bounds the signets of one HIST reply; a longer chain is
	// sent in pages (spec §5.7).
	MaxHistory = 64

	// MaxLogSize bounds the payload of a LOG reply (spec §5.9).
	MaxLogSize = 1 << 20

	// maxDiscard bounds how much of an over-long line the server skips
	// while looking for its end before it gives up on the connection.
	maxDiscard = 64 << 10

	// maxErrors is the number of protocol errors (500, 501, 503) after
	// which the server closes the connection (spec §7).
	maxErrors = 10

	// maxReplyLines bounds the lines of one reply the client accepts.
	maxReplyLines = 32

	// bufferSize is the size of both halves' buffered readers; it must
	// exceed MaxLineLength so that one ReadSlice sees a whole legal line.
	bufferSize = 4096
)

// Line errors. The server answers the first two with 500 and keeps the
// connection; errGarbage closes it.
var (
	errLineTooLong = errors.New("dmtp: line longer than 512 bytes")
	errBareLF      = errors.New("dmtp: line not terminated by CRLF")
	errGarbage     = errors.New("dmtp: over-long line without an end in sight")
)

// readLine reads one CRLF-terminated line of at most MaxLineLength bytes
// and returns it without the CRLF. An over-long line is consumed up to and
// including its LF, so the next read starts at the next line; if no LF comes
// within maxDiscard bytes the stream is given up as garbage (spec §2.2).
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case err == nil:
		if len(line) > MaxLineLength {
			return "", errLineTooLong
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return "", errBareLF
		}
		return string(line[:len(line)-2]), nil
	case errors.Is(err, bufio.ErrBufferFull):
		return "", discardLine(r, len(line))
	case err == io.EOF && len(line) > 0:
		return "", io.ErrUnexpectedEOF
	default:
		return "", err
	}
}

// discardLine skips the rest of an over-long line of which n bytes were
// already read.
func discardLine(r *bufio.Reader, n int) error {
	for n <= maxDiscard {
		chunk, err := r.ReadSlice('\n')
		n += len(chunk)
		switch {
		case err == nil && n <= maxDiscard:
			return errLineTooLong
		case err == nil:
			return errGarbage
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		default:
			return err
		}
	}
	return errGarbage
}
