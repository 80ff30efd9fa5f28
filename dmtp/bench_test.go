package dmtp

import (
	"bytes"
	"io"
	"testing"

	"umbra/signet"
)

// nopBackend accepts everything and stores nothing: the benchmark measures
// the protocol, TLS and loopback alone.
type nopBackend struct{}

func (nopBackend) NewSession(ConnInfo) (Session, error) { return nopSession{}, nil }

type nopSession struct{}

func (nopSession) Hello(string) error                                { return nil }
func (nopSession) Mail(string, signet.Fingerprint) error             { return nil }
func (nopSession) Rcpt(string, signet.Fingerprint) error             { return nil }
func (nopSession) Signet(string, signet.Fingerprint) ([]byte, error) { return []byte{1}, nil }
func (nopSession) History(string, signet.Fingerprint, signet.Fingerprint) ([][]byte, error) {
	return [][]byte{{1}}, nil
}
func (nopSession) Verify(string, signet.Fingerprint) (bool, signet.Fingerprint, error) {
	return false, signet.Fingerprint{1}, nil
}
func (nopSession) Reset()       {}
func (nopSession) Close() error { return nil }
func (nopSession) Data(r io.Reader, _ int64) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// BenchmarkSession: one 4 KiB message over loopback TLS 1.3 — MAIL, RCPT,
// DATA — on an open connection ("transaction"), and with a new connection,
// handshake and EHLO each time ("connection").
func BenchmarkSession(b *testing.B) {
	_, addr := startServer(b, nopBackend{})
	body := bytes.Repeat([]byte("\x00\r\n.x"), 4096/5+1)[:4096]
	send := func(b *testing.B, c *Client) {
		if err := c.Mail("a.test", signet.Fingerprint{}); err != nil {
			b.Fatal(err)
		}
		if err := c.Rcpt("b.test", signet.Fingerprint{}); err != nil {
			b.Fatal(err)
		}
		if err := c.Data(bytes.NewReader(body), int64(len(body))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("transaction", func(b *testing.B) {
		c := dial(b, addr)
		if err := c.Hello("a.test"); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			send(b, c)
		}
	})
	b.Run("connection", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			c, err := Dial(b.Context(), addr, clientConfig(b))
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Hello("a.test"); err != nil {
				b.Fatal(err)
			}
			send(b, c)
			if err := c.Quit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
