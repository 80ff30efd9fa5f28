package dmap

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"umbra/tlscert"
)

// selfSigned makes a certificate for 127.0.0.1 and returns it with its pin.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	pair, err := tlscert.New([]string{"127.0.0.1"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	pin := sha256.Sum256(pair.Leaf.RawSubjectPublicKeyInfo)
	return cert, pin[:]
}

// TestNewServer: the server NewServer builds speaks HTTP/2 over TLS 1.3
// to a pinned client and refuses a client limited to TLS 1.2.
func TestNewServer(t *testing.T) {
	t.Parallel()
	if _, err := NewServer(http.NotFoundHandler(), nil); err == nil {
		t.Fatal("NewServer without TLS configuration")
	}
	if _, err := NewServer(http.NotFoundHandler(), &tls.Config{MaxVersion: tls.VersionTLS12}); err == nil {
		t.Fatal("NewServer with TLS 1.2 at most")
	}
	org, err := testOrg()
	if err != nil {
		t.Fatal(err)
	}
	fb := newFakeBackend(org, sigKey("sok"))
	h, err := Handler(fb, Options{Domain: testDomain, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cert, pin := selfSigned(t)
	srv, err := NewServer(h, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv.ErrorLog = log.New(io.Discard, "", 0) // the refused TLS 1.2 handshake is logged there
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	base := "https://" + ln.Addr().String()

	c, err := NewClient(base, ClientTLSConfig(pin, "dmap.a.test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fb.invite("alice@a.test", "CODE")
	dev := sigKey("dev")
	_, _, err = c.Register(t.Context(), RegisterParams{
		Address: "alice@a.test", Invite: "CODE", Mode: ModeParanoid,
		Request:   signingRequestFor(t, "alice@a.test", sigKey("s"), sigKey("r"), nil),
		DeviceKey: pubOf(dev), DeviceName: "d",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(t.Context(), "alice@a.test", dev); err != nil {
		t.Fatal(err)
	}

	tr := &http.Transport{TLSClientConfig: ClientTLSConfig(pin, "dmap.a.test"), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(base + "/dmap/v1/devices")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.TLS.Version != tls.VersionTLS13 || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("%s, TLS %x, %d", resp.Proto, resp.TLS.Version, resp.StatusCode)
	}

	old := ClientTLSConfig(pin, "dmap.a.test")
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	tr12 := &http.Transport{TLSClientConfig: old}
	defer tr12.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr12}).Get(base + "/dmap/v1/devices"); err == nil {
		t.Fatal("a TLS 1.2 client was served")
	}
}

// TestMaxStreams: a server from NewServer lets one HTTP/2 connection
// hold at most MaxStreams requests at once; Go's client, told so in the
// server's SETTINGS, opens another connection for the rest.
func TestMaxStreams(t *testing.T) {
	t.Parallel()
	const n = MaxStreams + 8
	var mu sync.Mutex
	perConn := map[string]int{}
	total := 0
	all := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		perConn[r.RemoteAddr]++
		if total++; total == n {
			close(all)
		}
		mu.Unlock()
		<-release
	})
	cert, pin := selfSigned(t)
	srv, err := NewServer(h, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv.ErrorLog = log.New(io.Discard, "", 0) // connections closed at the end are logged there
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	tr := &http.Transport{TLSClientConfig: ClientTLSConfig(pin, "dmap.a.test"), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	// One request first, so that the client knows the server's
	// SETTINGS before the others share its connection.
	var wg sync.WaitGroup
	get := func() {
		resp, err := cl.Get("https://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
	}
	wg.Go(get)
	for {
		mu.Lock()
		started := total
		mu.Unlock()
		if started == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range n - 1 {
		wg.Go(get)
	}
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatalf("only %d of %d requests reached the handler", total, n)
	}
	mu.Lock()
	for addr, k := range perConn {
		if k > MaxStreams {
			t.Errorf("connection %s held %d requests at once, over %d", addr, k, MaxStreams)
		}
	}
	conns := len(perConn)
	mu.Unlock()
	close(release)
	wg.Wait()
	if conns < 2 {
		t.Fatalf("%d requests on %d connection(s)", n, conns)
	}
}
