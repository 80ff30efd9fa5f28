// Package wkdtest runs a Web Key Directory on 127.0.0.1 for tests: one
// HTTPS server that answers for every domain, by both the advanced and the
// direct method, and an HTTP client that reaches it whatever host name it
// is asked for.
//
// Concurrency: a Server is safe for use by many goroutines.
package wkdtest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server is the directory.
type Server struct {
	srv    *httptest.Server
	mu     sync.Mutex
	keys   map[string][]byte // request path → response body
	hosts  []string          // Host of each request
	status int               // if not 0, the answer to every request
	stall  bool              // never answer
}

// New starts a Server; it stops when the test ends.
func New(t testing.TB) *Server {
	d := &Server{keys: map[string][]byte{}}
	d.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.hosts = append(d.hosts, r.Host)
		body, ok := d.keys[r.URL.Path]
		status, stall := d.status, d.stall
		d.mu.Unlock()
		switch {
		case stall:
			<-r.Context().Done()
			// No answer at all, not an empty 200 that a client racing
			// its own deadline could still read.
			panic(http.ErrAbortHandler)
		case status != 0:
			w.WriteHeader(status)
		case !ok:
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(body)
		}
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// HTTPClient reaches the directory whatever the host name, trusting its
// certificate; host names starting with "openpgpkey." do not exist when
// noAdvanced is set.
func (d *Server) HTTPClient(noAdvanced bool) *http.Client {
	tr := d.srv.Client().Transport.(*http.Transport).Clone()
	// httptest's certificate names example.com: checked as that, it
	// stands for every domain here.
	tr.TLSClientConfig.ServerName = "example.com"
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if noAdvanced && strings.HasPrefix(addr, "openpgpkey.") {
			return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
		}
		var dialer net.Dialer
		return dialer.DialContext(ctx, "tcp", d.srv.Listener.Addr().String())
	}
	return &http.Client{Transport: tr}
}

// Hosts returns the Host of each request so far.
func (d *Server) Hosts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.hosts...)
}

// Publish serves body at path.
func (d *Server) Publish(path string, body []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys[path] = body
}

// Fail makes every answer status (0: answer normally again).
func (d *Server) Fail(status int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status = status
}

// Stall makes every request wait until the client gives up.
func (d *Server) Stall() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stall = true
}
