package dmtp

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestTLSBelow13Refused(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	_, addr := startServer(t, b)
	cfg := clientConfig(t)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if c, err := tls.Dial("tcp", addr, cfg); err == nil {
		c.Close()
		t.Fatal("TLS 1.2 handshake succeeded")
	}
}

// TestGetConfigForClientEnforced: TLS 1.3 holds even when the operator's
// per-client configuration would allow less.
func TestGetConfigForClientEnforced(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend(), func(s *Server) {
		s.TLSConfig = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert(t)}}, nil
		}}
	})
	cfg := clientConfig(t)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if c, err := tls.Dial("tcp", addr, cfg); err == nil {
		c.Close()
		t.Fatal("TLS 1.2 handshake succeeded through GetConfigForClient")
	}
	c := dial(t, addr)
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
}

// TestPlaintextRefused: a client speaking SMTP-style plaintext gets no
// DMTP reply, and no session starts.
func TestPlaintextRefused(t *testing.T) {
	t.Parallel()
	b := newTestBackend()
	_, addr := startServer(t, b)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "EHLO a.test\r\nMAIL FROM:<a.test>\r\n"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("server kept a plaintext connection open")
		}
	}
	if bytes.Contains(got, []byte("DMTP")) || bytes.Contains(got, []byte("250")) || bytes.Contains(got, []byte("220")) {
		t.Fatalf("server answered plaintext with %q", got)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions != 0 {
		t.Fatal("a session started without TLS")
	}
}

func TestPinMismatch(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend())
	wrong := append([]byte(nil), pin(t)...)
	wrong[0] ^= 1
	for _, p := range [][]byte{wrong, pin(t)[:31], {}} {
		c, err := Dial(t.Context(), addr, PinnedConfig(p, testHost))
		if err == nil {
			c.Close()
			t.Fatalf("pin %x accepted", p)
		}
		if !errors.Is(err, ErrPinMismatch) {
			t.Errorf("pin %x: %v, want ErrPinMismatch", p, err)
		}
	}
	// The right pin needs no name match or CA: any server name will do.
	c, err := Dial(t.Context(), addr, PinnedConfig(pin(t), "other.test"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestCAValidation: without a pin the certificate must chain to a trusted
// root and match the server name.
func TestCAValidation(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend())
	_, err := Dial(t.Context(), addr, PinnedConfig(nil, testHost))
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Fatalf("self-signed certificate without a pin: %v, want an unknown authority error", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert(t).Leaf)
	cfg := PinnedConfig(nil, "other.test")
	cfg.RootCAs = roots
	var he x509.HostnameError
	if _, err := Dial(t.Context(), addr, cfg); !errors.As(err, &he) {
		t.Fatalf("wrong server name: %v, want a hostname error", err)
	}
	cfg = PinnedConfig(nil, testHost)
	cfg.RootCAs = roots
	c, err := Dial(t.Context(), addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("TLS version %x", v)
	}
}

func TestServerConfigErrors(t *testing.T) {
	t.Parallel()
	good := &tls.Config{Certificates: []tls.Certificate{cert(t)}}
	for name, s := range map[string]*Server{
		"no backend":     {TLSConfig: good},
		"no TLS":         {Backend: newTestBackend()},
		"no certificate": {Backend: newTestBackend(), TLSConfig: &tls.Config{}},
		"TLS 1.2 max":    {Backend: newTestBackend(), TLSConfig: &tls.Config{Certificates: good.Certificates, MaxVersion: tls.VersionTLS12}},
		"bad hostname":   {Backend: newTestBackend(), TLSConfig: good, Hostname: "two words"},
		"negative limit": {Backend: newTestBackend(), TLSConfig: good, Hostname: testHost, MaxMessageSize: -1},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		err = s.Serve(ln)
		ln.Close()
		if err == nil || errors.Is(err, ErrServerClosed) {
			t.Errorf("%s: Serve returned %v", name, err)
		}
	}
}

// TestALPNMismatch: a client of another protocol (here HTTP/2) cannot
// complete a handshake with a DMTP server (spec §2.1).
func TestALPNMismatch(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, newTestBackend())
	cfg := clientConfig(t)
	cfg.NextProtos = []string{"h2"}
	if c, err := tls.Dial("tcp", addr, cfg); err == nil {
		c.Close()
		t.Fatal("handshake offering only h2 succeeded")
	}
}
