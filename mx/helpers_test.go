package mx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"umbra/dnsrec"
	"umbra/dnsrec/dnstest"
	"umbra/testlog"
	"umbra/tlscert"
)

// memBackend keeps what it is handed, for tests of the protocol alone
// (the provider's tests deliver into a real store).
type memBackend struct {
	mu     sync.Mutex
	users  map[string]bool
	got    []delivery
	hold   chan struct{} // if set, Deliver waits for it
	held   chan struct{} // if set, closed when Deliver starts waiting
	failed error         // if set, Deliver returns it
}

type delivery struct {
	env   Envelope
	rcpts []string
	msg   []byte
}

func (b *memBackend) Recipient(_ context.Context, a string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.users[strings.ToLower(a)] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox here"}
	}
	return nil
}

func (b *memBackend) Deliver(ctx context.Context, env *Envelope, rcpts []string, sr *io.SectionReader) error {
	msg, err := io.ReadAll(sr)
	if err != nil {
		return err
	}
	if b.hold != nil {
		close(b.held)
		select {
		case <-b.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failed != nil {
		return b.failed
	}
	b.got = append(b.got, delivery{*env, append([]string(nil), rcpts...), msg})
	return nil
}

func (b *memBackend) deliveries() []delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]delivery(nil), b.got...)
}

// testMX is a running MX on 127.0.0.1 with a DNS server of its own.
type testMX struct {
	srv  *Server
	addr string
	be   *memBackend
	dns  *dnstest.Server
	pool *x509.CertPool
	logs *testlog.Buffer
}

// startMX starts an MX for "b.test" whose only user is bob@b.test; adjust
// changes the configuration before it starts.
func startMX(t *testing.T, adjust func(*Config)) *testMX {
	t.Helper()
	dns := dnstest.NewServer(t)
	res, err := (&dnsrec.Resolver{Server: dns.Addr}).NetResolver()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tlscert.New([]string{"127.0.0.1"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	be := &memBackend{users: map[string]bool{"bob@b.test": true}}
	logs := &testlog.Buffer{}
	cfg := Config{
		Hostname: "mx.b.test", AuthServID: "b.test",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Resolver:  res, Backend: be,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testMX{srv: srv, addr: ln.Addr().String(), be: be, dns: dns, pool: pool, logs: logs}
}

// dial connects a go-smtp client as "sender.test", or with STARTTLS as
// "localhost" (go-smtp's client names itself so for STARTTLS).
func (m *testMX) dial(t *testing.T, startTLS bool) *smtp.Client {
	t.Helper()
	var c *smtp.Client
	var err error
	if startTLS {
		c, err = smtp.DialStartTLS(m.addr, &tls.Config{ServerName: "127.0.0.1", RootCAs: m.pool})
	} else if c, err = smtp.Dial(m.addr); err == nil {
		err = c.Hello("sender.test")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send runs one transaction and returns the reply to DATA's end.
func send(c *smtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

// code is the SMTP reply code of err, or 0.
func code(err error) int {
	var se *smtp.SMTPError
	if e, ok := err.(*smtp.SMTPError); ok {
		se = e
	}
	if se == nil {
		return 0
	}
	return se.Code
}
