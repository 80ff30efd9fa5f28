package wkd

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"umbra/pgp"
	"umbra/wkd/wkdtest"
)

// directory is a WKD server for example.com and a client that reaches
// it.
type directory struct{ *wkdtest.Server }

func newDirectory(t *testing.T) directory { return directory{wkdtest.New(t)} }

func (d directory) client(noAdvanced bool) *Client {
	return &Client{HTTP: d.HTTPClient(noAdvanced), Timeout: 2 * time.Second}
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
	d.Publish(advancedDir+Hash("joe.doe"), k.Bytes())
	got, err := d.client(false).Lookup(context.Background(), joe)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != k.Fingerprint() {
		t.Errorf("got key %s, want %s", got.Fingerprint(), k.Fingerprint())
	}
	if hosts := d.Hosts(); len(hosts) != 1 || hosts[0] != "openpgpkey.example.com" {
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
	d.Publish(advancedDir+Hash("joe.doe"), body)
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
	d.Publish(directDir+Hash("joe.doe"), k.Armored())
	got, err := d.client(true).Lookup(context.Background(), joe)
	if err != nil {
		t.Fatal(err)
	}
	if hosts := d.Hosts(); got.Fingerprint() != k.Fingerprint() || len(hosts) != 1 || hosts[0] != "example.com" {
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
				d.Publish(path, c.body)
			}
			d.Fail(c.status)
			if c.stall {
				d.Stall()
			}
			cl := d.client(false)
			if c.stall {
				// Only the stalled directory waits for the timeout; the
				// others answer, however loaded the machine.
				cl.Timeout = 300 * time.Millisecond
			} else {
				cl.Timeout = 10 * time.Second
			}
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
