package dmtp

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/signet"
)

const testHost = "dx.b.test"

// testCert is one self-signed certificate for the whole test binary:
// ECDSA P-256, valid for dx.b.test and 127.0.0.1.
var testCert = sync.OnceValues(func() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: testHost},
		DNSNames:     []string{testHost},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true,

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
})

func cert(t testing.TB) tls.Certificate {
	t.Helper()
	c, err := testCert()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pin is the SHA-256 of the test certificate's SubjectPublicKeyInfo.
func pin(t testing.TB) []byte {
	sum := sha256.Sum256(cert(t).Leaf.RawSubjectPublicKeyInfo)
	return sum[:]
}

func clientConfig(t testing.TB) *tls.Config { return PinnedConfig(pin(t), testHost) }

// message is what the test backend stored.
type message struct {
	origin, dest     string
	originFP, destFP signet.Fingerprint
	body             []byte
}

// testBackend keeps signet chains and stored messages in memory and lets
// a test replace the behaviour of each session method.
type testBackend struct {
	signets map[string][][]byte // by address or domain, oldest first

	// Set before the server starts.
	newSession func(ConnInfo) error
	hello      func(domain string) error
	mail       func(origin string) error
	data       func(r io.Reader, size int64) error // replaces the default store
	logFunc    func(args string) ([]byte, error)   // makes sessions LogSessions

	mu       sync.Mutex
	messages []message
	dataErrs []error // errors Data's reader returned
	sessions int
	closed   int
	dataSeen chan error // if set, receives the result of every Data call
}

func newTestBackend() *testBackend { return &testBackend{signets: map[string][][]byte{}} }

func (b *testBackend) stored() []message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]message(nil), b.messages...)
}

func (b *testBackend) NewSession(c ConnInfo) (Session, error) {
	if b.newSession != nil {
		if err := b.newSession(c); err != nil {
			return nil, err
		}
	}
	b.mu.Lock()
	b.sessions++
	b.mu.Unlock()
	s := &testSession{b: b}
	if b.logFunc != nil {
		return &testLogSession{s}, nil
	}
	return s, nil
}

type testSession struct {
	b                *testBackend
	origin, dest     string
	originFP, destFP signet.Fingerprint
}

type testLogSession struct{ *testSession }

func (s *testLogSession) Log(args string) ([]byte, error) { return s.b.logFunc(args) }

var errUnknownName = &Error{Code: 550, Enhanced: "5.1.1", Message: "unknown address or domain"}

func (s *testSession) Hello(domain string) error {
	if s.b.hello != nil {
		return s.b.hello(domain)
	}
	return nil
}

func (s *testSession) Mail(origin string, fp signet.Fingerprint) error {
	if s.b.mail != nil {
		if err := s.b.mail(origin); err != nil {
			return err
		}
	}
	s.origin, s.originFP = origin, fp
	return nil
}

func (s *testSession) Rcpt(dest string, fp signet.Fingerprint) error {
	s.dest, s.destFP = dest, fp
	return nil
}

func (s *testSession) Data(r io.Reader, size int64) error {
	var err error
	if s.b.data != nil {
		err = s.b.data(r, size)
	} else {
		var body []byte
		body, err = io.ReadAll(r)
		s.b.mu.Lock()
		if err != nil {
			s.b.dataErrs = append(s.b.dataErrs, err)
		} else {
			s.b.messages = append(s.b.messages, message{s.origin, s.dest, s.originFP, s.destFP, body})
		}
		s.b.mu.Unlock()
	}
	if s.b.dataSeen != nil {
		s.b.dataSeen <- err
	}
	return err
}

func (s *testSession) chain(name string) ([][]byte, error) {
	c, ok := s.b.signets[name]
	if !ok {
		return nil, errUnknownName
	}
	return c, nil
}

func indexOf(chain [][]byte, fp signet.Fingerprint) int {
	for i, b := range chain {
		if signet.FingerprintOf(b) == fp {
			return i
		}
	}
	return -1
}

func (s *testSession) Signet(name string, fp signet.Fingerprint) ([]byte, error) {
	c, err := s.chain(name)
	if err != nil {
		return nil, err
	}
	if fp.IsZero() {
		return c[len(c)-1], nil
	}
	if i := indexOf(c, fp); i >= 0 {
		return c[i], nil
	}
	return nil, errUnknownName
}

func (s *testSession) History(address string, start, stop signet.Fingerprint) ([][]byte, error) {
	c, err := s.chain(address)
	if err != nil {
		return nil, err
	}
	i, j := 0, len(c)-1
	if !start.IsZero() {
		i = indexOf(c, start)
	}
	if !stop.IsZero() {
		j = indexOf(c, stop)
	}
	if i < 0 || j < 0 || i > j {
		return nil, errUnknownName
	}
	return c[i : j+1], nil
}

func (s *testSession) Verify(name string, fp signet.Fingerprint) (bool, signet.Fingerprint, error) {
	c, err := s.chain(name)
	if err != nil {
		return false, signet.Fingerprint{}, err
	}
	latest := signet.FingerprintOf(c[len(c)-1])
	return fp == latest, latest, nil
}

func (s *testSession) Reset() { s.origin, s.dest = "", "" }

func (s *testSession) Close() error {
	s.b.mu.Lock()
	s.b.closed++
	s.b.mu.Unlock()
	return nil
}

// startServer serves b on a fresh loopback port and shuts the server down
// when the test ends.
func startServer(t testing.TB, b Backend, configure ...func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Backend:        b,
		TLSConfig:      &tls.Config{Certificates: []tls.Certificate{cert(t)}},
		Hostname:       testHost,
		MaxMessageSize: 1 << 20,
		Logger:         slog.New(slog.DiscardHandler),
	}
	for _, f := range configure {
		f(s)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

func dial(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// raw is a TLS connection driven line by line, for what the Client would
// refuse to send.
type raw struct {
	t testing.TB
	c *tls.Conn
	r *bufio.Reader
}

// connectRaw opens a raw connection; the greeting is still to be read.
func connectRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := tls.Dial("tcp", addr, clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &raw{t: t, c: c, r: bufio.NewReaderSize(c, bufferSize)}
}

// dialRaw opens a raw connection and reads the greeting.
func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	r := connectRaw(t, addr)
	r.expectReply(220, "")
	return r
}

func (r *raw) write(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) reply() *reply {
	r.t.Helper()
	rep, err := readReply(r.r)
	if err != nil {
		r.t.Fatalf("read reply: %v", err)
	}
	return rep
}

// expectReply reads a reply and checks its code and, if not empty, the
// enhanced status code at the start of its text.
func (r *raw) expectReply(code int, enhanced string) *reply {
	r.t.Helper()
	rep := r.reply()
	if rep.code != code || enhanced != "" && !strings.HasPrefix(rep.lines[0], enhanced+" ") {
		r.t.Fatalf("reply %d %q, want %d %s", rep.code, rep.lines, code, enhanced)
	}
	return rep
}

// cmd sends one line and checks the reply.
func (r *raw) cmd(line string, code int, enhanced string) *reply {
	r.t.Helper()
	r.write(line + "\r\n")
	return r.expectReply(code, enhanced)
}

// expectClosed checks that the server has closed the connection.
func (r *raw) expectClosed() {
	r.t.Helper()
	if b, err := r.r.ReadByte(); err == nil {
		r.t.Fatalf("read %q after the server should have closed", b)
	}
}

// chainOf makes n distinct binary signet-like blobs, each containing bytes
// that would confuse a line-based reader.
func chainOf(name string, n int) [][]byte {
	c := make([][]byte, n)
	for i := range c {
		c[i] = []byte("\x00sig\r\n250 OK\r\n.\r\n" + name + "\n" + strings.Repeat("\xff", i%7) + string(rune('A'+i%26)) + strings.Repeat("#", i))
	}
	return c
}

func fp(b []byte) signet.Fingerprint { return signet.FingerprintOf(b) }
