package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

const rfcExample = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"

func TestParse(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(rfcExample))
	if err != nil || p.Mode != Enforce || p.MaxAge != 7*24*time.Hour || len(p.MX) != 3 {
		t.Fatalf("RFC 8461 §3.2's example: %+v %v", p, err)
	}
	for host, want := range map[string]bool{
		"mail.example.com": true, "MAIL.example.com.": true, "foo.example.net": true,
		"bar.foo.example.net": false, "example.net": false, "mail.example.org": false,
	} {
		if p.Allows(host) != want {
			t.Errorf("Allows(%q) = %v", host, !want)
		}
	}
	if p, err := Parse([]byte("version: STSv1\nmode: none\nmax_age: 0\nfuture: ignored\n")); err != nil || p.Mode != None {
		t.Errorf("mode none without mx, LF ends, an unknown key: %+v %v", p, err)
	}
	for name, body := range map[string]string{
		"no version":        "mode: enforce\nmx: a.example\nmax_age: 1\n",
		"version 2":         "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
		"bad mode":          "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
		"no mx":             "version: STSv1\nmode: enforce\nmax_age: 1\n",
		"max_age too big":   "version: STSv1\nmode: testing\nmx: a.example\nmax_age: 31557601\n",
		"negative max_age":  "version: STSv1\nmode: testing\nmx: a.example\nmax_age: -1\n",
		"mode twice":        "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 1\n",
		"wildcard inside":   "version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 1\n",
		"line without ':'":  "version: STSv1\nmode enforce\nmx: a.example\nmax_age: 1\n",
		"oversize":          string(make([]byte, MaxPolicy+1)),
		"space in mx label": "version: STSv1\nmode: enforce\nmx: a b.example\nmax_age: 1\n",
	} {
		if _, err := Parse([]byte(body)); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: %v, want a malformed policy", name, err)
		}
	}
}

// TestFetcher: a policy over HTTPS from mta-sts.<domain>, used from the
// cache while the TXT id stays, fetched again when it changes, kept when
// the TXT record vanishes or the server fails, and refused when it
// redirects or is not text/plain.
func TestFetcher(t *testing.T) {
	t.Parallel()
	var body atomic.Value
	body.Store(rfcExample)
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case r.Host == "mta-sts.redirect.example":
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		case r.Host == "mta-sts.html.example":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(rfcExample))
		case r.URL.Path != "/.well-known/mta-sts.txt":
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte(body.Load().(string)))
		}
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	client := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return net.Dial("tcp", srv.Listener.Addr().String())
			},
			TLSClientConfig: &tls.Config{RootCAs: pool, InsecureSkipVerify: true}, // httptest's certificate names example.com only
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	txt := map[string][]string{"_mta-sts.example.com": {"v=STSv1; id=1"}, "_mta-sts.redirect.example": {"v=STSv1; id=1"}, "_mta-sts.html.example": {"v=STSv1; id=1"}}
	// The fetcher asks on the test's goroutine: txt needs no lock.
	cacheFile := filepath.Join(t.TempDir(), "mta-sts.json")
	f := &Fetcher{HTTP: client, CacheFile: cacheFile, LookupTXT: func(_ context.Context, name string) ([]string, error) {
		if v, ok := txt[name]; ok {
			return v, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}}
	ctx := context.Background()
	p, err := f.Policy(ctx, "example.com")
	if err != nil || p == nil || p.Mode != Enforce {
		t.Fatalf("first fetch: %+v %v", p, err)
	}
	body.Store("version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 86400\n")
	if p, _ := f.Policy(ctx, "example.com"); p.Mode != Enforce || hits.Load() != 1 {
		t.Fatalf("same id: %+v after %d fetches, want the cached enforce", p, hits.Load())
	}
	txt["_mta-sts.example.com"] = []string{"v=STSv1; id=2"}
	if p, _ := f.Policy(ctx, "example.com"); p.Mode != Testing {
		t.Fatalf("new id: %+v, want the new testing policy", p)
	}
	delete(txt, "_mta-sts.example.com")
	if p, _ := f.Policy(ctx, "example.com"); p == nil || p.Mode != Testing {
		t.Fatalf("TXT gone: %+v, want the cached policy", p)
	}
	if p, err := f.Policy(ctx, "nothing.example"); p != nil || err != nil {
		t.Fatalf("no record: %+v %v", p, err)
	}
	for _, d := range []string{"redirect.example", "html.example"} {
		if p, err := f.Policy(ctx, d); err == nil || p != nil {
			t.Errorf("%s: %+v %v, want an error", d, p, err)
		}
	}
	// A restarted relay remembers (RFC 8461 §5.1): with the TXT record
	// gone and the policy server down, the policy still holds.
	srv.Close()
	again := &Fetcher{HTTP: client, CacheFile: cacheFile, LookupTXT: f.LookupTXT}
	if p, err := again.Policy(ctx, "example.com"); err != nil || p == nil || p.Mode != Testing || !p.Allows("mail.example.com") {
		t.Fatalf("after a restart: %+v %v, want the cached testing policy", p, err)
	}
	// A cache file that is not one is an error, not silence.
	os.WriteFile(cacheFile, []byte("{not json"), 0o600)
	if _, err := (&Fetcher{HTTP: client, CacheFile: cacheFile, LookupTXT: f.LookupTXT}).Policy(ctx, "example.com"); err == nil {
		t.Fatal("a corrupt cache file was ignored")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(rfcExample))
	f.Add([]byte("version: STSv1\nmode: none\nmax_age: 0\n"))
	f.Add([]byte("version: STSv1\r\nmode: testing\r\nmx: *.a.example\r\nmax_age: 31557600\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Parse(body)
		if err != nil {
			return
		}
		if p.Mode != None && len(p.MX) == 0 || p.MaxAge < 0 || p.MaxAge > maxMaxAge*time.Second {
			t.Fatalf("accepted %+v", p)
		}
		for _, m := range p.MX {
			if !p.Allows(m) && m[0] != '*' {
				t.Fatalf("%q does not allow itself", m)
			}
		}
	})
}
