package dmtp

import (
	"context"
	"crypto/tls"
	"io"
	"net"

	"umbra/signet"
)

// Backend is what the provider plugs into a Server: it opens one Session
// per connection. NewSession is called concurrently, once per connection,
// after the TLS handshake and before the greeting. An error refuses the
// connection: an *Error is sent as the reply (use 421 or 554), any other
// error as "421 4.3.0", and the connection is closed.
type Backend interface {
	NewSession(c ConnInfo) (Session, error)
}

// ConnInfo describes a new connection.
type ConnInfo struct {
	// Context is the connection's: it ends when the connection does, or
	// when Shutdown stops waiting for it. Session methods bound their work
	// by it (the one context per connection).
	Context    context.Context
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	TLS        tls.ConnectionState // the completed TLS 1.3 handshake
}

// Session receives the commands of one connection. Its methods are called
// from the connection's goroutine, one at a time, only in the order the
// state machine allows (docs/spec/dmtp.md §3), with arguments the parser
// has already validated (canonical domains and addresses, fingerprints).
//
// Every method that returns an error chooses the reply with it: an *Error
// (possibly wrapped) is sent as it is, provided it is a valid 4xx/5xx reply;
// any other error is logged and answered "451 4.3.0" with a generic text.
// A 421 closes the connection after it is sent.
type Session interface {
	// Hello is called for EHLO with the client's domain. An error leaves
	// the connection un-greeted.
	Hello(domain string) error

	// Mail starts a transaction from the origin domain; fp is the
	// fingerprint of the origin organisation signet the client used, zero
	// if it named none.
	Mail(origin string, fp signet.Fingerprint) error

	// Rcpt names the transaction's destination domain (exactly one per
	// transaction) and, if not zero, the fingerprint of the destination
	// organisation signet the message was sealed to.
	Rcpt(dest string, fp signet.Fingerprint) error

	// Data receives the message: exactly size bytes from r, which is valid
	// only during the call. It must return nil only once the message is
	// durably stored: nil makes the server reply 250 and the origin forget
	// the message. If the connection fails before size bytes arrive, r
	// returns an error wrapping io.ErrUnexpectedEOF and Data must store
	// nothing. Data may refuse early with an error without reading all of
	// r; the server then skips the rest of the body itself.
	Data(r io.Reader, size int64) error

	// Signet returns the encoded signet for SGNT: for an address its
	// current user signet, for a domain its current organisation signet,
	// or, with a non-zero fp, the one with that fingerprint. Unknown names
	// or fingerprints should return an *Error with 550 5.1.1.
	Signet(name string, fp signet.Fingerprint) ([]byte, error)

	// History returns the user signets of address from the one with
	// fingerprint start (the oldest known when zero) to the one with
	// fingerprint stop (the current one when zero), both included, oldest
	// first; at least one. The server sends at most MaxHistory of them
	// per reply and lets the client ask for the rest.
	History(address string, start, stop signet.Fingerprint) ([][]byte, error)

	// Verify answers VRFY: whether fp is (still) a current signet of name,
	// and the fingerprint of the latest one, which must not be zero. fp
	// is zero when the client asked without one; the reply then only
	// names the latest.
	Verify(name string, fp signet.Fingerprint) (current bool, latest signet.Fingerprint, err error)

	// Reset ends the current transaction, if any: after RSET, a new EHLO,
	// and DATA's final reply, whatever it was.
	Reset()

	// Close is called exactly once, when the connection ends for any
	// reason.
	Close() error
}

// LogSession is implemented by a Session that serves LOG, the
// transparency-log command reserved for the key log (DESIGN §4; spec
// §5.9). args is the text after "LOG " (empty if none); the reply carries
// the returned bytes, at most MaxLogSize. Without it the server answers
// LOG with "502 5.5.1" and does not advertise LOG in its EHLO reply.
type LogSession interface {
	Log(args string) ([]byte, error)
}
