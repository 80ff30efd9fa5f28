package wkd

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/pgp"
)

// directory is a WKD server on 127.0.0.1 for example.com that answers both
// methods, and a client that reaches it for any host name.
type directory struct {
	srv    *httptest.Server
	mu     sync.Mutex
	keys   map[string][]byte // request path → response body
	hosts  []string          // Host of each request
	status int               // if not 0, the answer to every request
	stall  bool              // never answer
}

func newDirectory(t *testing.T) *directory {
	d := &directory{keys: map[string][]byte{}}
	d.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.hosts = append(d.hosts, r.Host)
		body, ok := d.keys[r.URL.Path]
		status, stall := d.status, d.stall
		d.mu.Unlock()
		switch {
		case stall:
			<-r.Context().Done()
		case status != 0:
			w.WriteHeader(status)
		case !ok:
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(body)
		}
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// client reaches the directory whatever the host name; hosts starting with
// "openpgpkey." do not exist when noAdvanced is set.
func (d *directory) client(noAdvanced bool) *Client {
	tr := d.srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if noAdvanced && strings.HasPrefix(addr, "openpgpkey.") {
			return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
		}
		var dialer net.Dialer
		return dialer.DialContext(ctx, "tcp", d.srv.Listener.Addr().String())
	}
	return &Client{HTTP: &http.Client{Transport: tr}, Timeout: 2 * time.Second}
}

func (d *directory) requestHosts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.hosts...)
}

func (d *directory) publish(path string, body []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys[path] = body
}

const (
	joe         = "Joe.Doe@example.com"
	advancedDir = "/.well-known/openpgpkey/example.com/hu/"
	directDir   = "/.well-known/openpgpkey/hu/"
)

func mustKey(t testing.TB, addr string) *pgp.Key {
	t.Helper()
	k, err := pgp.GenerateKey(addr, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLookupAdvanced(t *testing.T) {
	t.Parallel()
	d := newDirectory(t)
	k := mustKey(t, "joe.doe@example.com")
	d.publish(advancedDir+Hash("joe.doe"), k.Bytes())
	got, err := d.client(false).Lookup(context.Background(), joe)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != k.Fingerprint() {
		t.Errorf("got key %s, want %s", got.Fingerprint(), k.Fingerprint())
	}
	if hosts := d.requestHosts(); len(hosts) != 1 || hosts[0] != "openpgpkey.example.com" {
		t.Errorf("requests went to %q", hosts)
	}
}

// A directory may serve several keys; the newest with the address wins.
func TestLookupSeveralKeys(t *testing.T) {
	t.Parallel()
	d := newDirectory(t)
	old, err := pgp.GenerateKey(joe, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	stranger, current := mustKey(t, "someone@example.com"), mustKey(t, joe)
	var body []byte
	for _, k := range []*pgp.Key{stranger, current, old} {
		body = append(body, k.Bytes()...)
	}
	d.publish(advancedDir+Hash("joe.doe"), body)
	got, err := d.client(false).Lookup(context.Background(), joe)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != current.Fingerprint() {
		t.Errorf("got %s, want the newest key %s", got.Fingerprint(), current.Fingerprint())
	}
}

func TestLookupFallsBackToDirect(t *testing.T) {
	t.Parallel()
	d := newDirectory(t)
	k := mustKey(t, joe)
	d.publish(directDir+Hash("joe.doe"), k.Armored())
	got, err := d.client(true).Lookup(context.Background(), joe)
	if err != nil {
		t.Fatal(err)
	}
	if hosts := d.requestHosts(); got.Fingerprint() != k.Fingerprint() || len(hosts) != 1 || hosts[0] != "example.com" {
		t.Errorf("got %s from %q", got.Fingerprint(), hosts)
	}
}

func TestLookupFailures(t *testing.T) {
	t.Parallel()
	path := advancedDir + Hash("joe.doe")
	stranger := mustKey(t, "someone@example.com")
	for _, c := range []struct {
		name   string
		body   []byte
		status int
		stall  bool
		is     error
	}{
		{name: "not published", is: ErrNotFound},
		{name: "wrong user ID", body: stranger.Bytes()},
		{name: "garbage", body: []byte("<html>hello</html>"), is: pgp.ErrMalformedKey},
		{name: "oversize", body: make([]byte, MaxResponseSize+1)},
		{name: "server error", status: http.StatusInternalServerError},
		{name: "timeout", stall: true, is: context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := newDirectory(t)
			if c.body != nil {
				d.publish(path, c.body)
			}
			d.mu.Lock()
			d.status, d.stall = c.status, c.stall
			d.mu.Unlock()
			cl := d.client(false)
			cl.Timeout = 300 * time.Millisecond
			key, err := cl.Lookup(context.Background(), joe)
			if err == nil {
				t.Fatalf("accepted key %s", key.Fingerprint())
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v, want %v", err, c.is)
			}
		})
	}
}
