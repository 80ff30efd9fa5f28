package dmap

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"umbra/connguard"
	"umbra/spool"
)

// TestBodyLimits: an over-large body is refused with 413 before it is
// read whole: at once when Content-Length says so, and after the limit
// when the body is streamed without a length.
func TestBodyLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.MaxDocument = 64 << 10 })
	u := e.newUser(t, "alice")
	tok := u.c.Tokens().Access

	// A huge declared length and a body that never comes.
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, e.base+"/dmap/v1/docs/big", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 1 << 40
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("If-Match", "0")
	req.Header.Set("Umbra-Kind", "blob")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errCode(data) != CodeTooLarge {
		t.Fatalf("declared 1 TiB: %d %s", resp.StatusCode, data)
	}

	// 64 MiB streamed in 16 KiB pieces without a length: the server stops
	// reading past 64 KiB, so the client never gets to send most of it.
	const total = 64 << 20
	body := &countingReader{left: total}
	resp, data = e.raw(t, http.MethodPut, "/dmap/v1/docs/big", tok, "application/octet-stream", body, "If-Match", "0", "Umbra-Kind", "blob")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errCode(data) != CodeTooLarge {
		t.Fatalf("streamed 64 MiB: %d %s", resp.StatusCode, data)
	}
	t.Logf("streamed: the client sent %d of %d bytes", body.sent.Load(), total)
	if sent := body.sent.Load(); sent >= total/4 {
		t.Fatalf("the client sent %d of %d bytes: the server read on", sent, total)
	}
	if e.fb.docCount(u.addr) != 0 {
		t.Fatal("an over-large document was stored")
	}

	// Control requests have their own, small limit.
	big := `{"address":"` + strings.Repeat("a", MaxJSON) + `@a.test"}`
	if status, code := e.rawJSON(t, "/dmap/v1/keybackup/challenge", big); status != http.StatusRequestEntityTooLarge || code != CodeTooLarge {
		t.Fatalf("JSON over the limit: %d %s", status, code)
	}
	// At the limit is fine.
	if _, err := u.c.Put(t.Context(), "fits", "blob", 0, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
}

// countingReader yields zeros in 16 KiB reads and counts them.
type countingReader struct {
	left int
	sent atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left, 16<<10)
	clear(p[:n])
	r.left -= n
	r.sent.Add(int64(n))
	return n, nil
}

var zeroKey = b64.EncodeToString(make([]byte, 32))

// TestMalformedRequests: each broken request gets its stable code.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	good := `"address":"alice@a.test","purpose":"login","key":"` + zeroKey + `"`
	cases := []struct {
		name, path, body, code string
	}{
		{"not JSON", "challenge", `not json`, CodeBadJSON},
		{"empty", "challenge", ``, CodeBadJSON},
		{"array", "challenge", `[]`, CodeBadJSON},
		{"wrong type", "challenge", `{"address":5,"purpose":"login","key":"` + zeroKey + `"}`, CodeBadJSON},
		{"trailing object", "challenge", `{` + good + `} {}`, CodeBadJSON},
		{"trailing junk", "challenge", `{` + good + `}x`, CodeBadJSON},
		{"duplicate member", "challenge", `{` + good + `,"purpose":"login"}`, CodeBadJSON},
		{"unknown member", "challenge", `{` + good + `,"admin":true}`, CodeUnknownField},
		{"member in another case", "challenge", `{"Address":"alice@a.test","purpose":"login","key":"` + zeroKey + `"}`, CodeUnknownField},
		{"bad base64", "challenge", `{"address":"alice@a.test","purpose":"login","key":"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"}`, CodeBadField},
		{"padded base64", "challenge", `{"address":"alice@a.test","purpose":"login","key":"` + zeroKey + `="}`, CodeBadField},
		{"standard base64", "challenge", `{"address":"alice@a.test","purpose":"login","key":"++++++++++++++++++++++++++++++++++++++++++8"}`, CodeBadField},
		{"short key", "challenge", `{"address":"alice@a.test","purpose":"login","key":"AAAA"}`, CodeBadField},
		{"missing key", "challenge", `{"address":"alice@a.test","purpose":"login"}`, CodeBadField},
		{"bad address", "challenge", `{"address":"alice","purpose":"login","key":"` + zeroKey + `"}`, CodeBadField},
		{"other domain", "challenge", `{"address":"alice@b.test","purpose":"login","key":"` + zeroKey + `"}`, CodeBadField},
		{"bad purpose", "challenge", `{"address":"alice@a.test","purpose":"key-backup","key":"` + zeroKey + `"}`, CodeBadField},
		{"nested unknown member", "register", `{"address":"alice@a.test","key_backup":{"vault":"AA","extra":1}}`, CodeUnknownField},
		{"nested duplicate", "register", `{"key_backup":{"params":{"time":3,"time":3}}}`, CodeBadJSON},
		{"cautious without backup", "register", `{"address":"alice@a.test","invite":"x","mode":"cautious","key_backup":null}`, CodeBadField},
		{"bad mode", "register", `{"address":"alice@a.test","invite":"x","mode":"trustful"}`, CodeBadField},
		{"refresh token short", "refresh", `{"refresh_token":"AAAA"}`, CodeBadField},
	}
	for _, tc := range cases {
		status, code := e.rawJSON(t, "/dmap/v1/"+tc.path, tc.body)
		if code != tc.code || status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, status, code, tc.code)
		}
	}
	resp, data := e.raw(t, http.MethodPost, "/dmap/v1/challenge", "", "text/plain", strings.NewReader(`{`+good+`}`))
	if resp.StatusCode != http.StatusUnsupportedMediaType || errCode(data) != CodeUnsupportedMedia {
		t.Errorf("text/plain: %d %s", resp.StatusCode, data)
	}
	if status, code := e.rawJSON(t, "/dmap/v1/challenge", `{`+good+`}`); status != http.StatusOK {
		t.Errorf("the well-formed request: %d %s", status, code)
	}
}

// TestRoutesAndParams: unknown paths and methods, and the query and header
// rules of the sync API.
func TestRoutesAndParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	tok := u.c.Tokens().Access
	if _, err := u.c.Put(t.Context(), "doc", "note", 0, []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path, contentType, body string
		hdr                             []string
		status                          int
		code                            string
	}{
		{"GET", "/dmap/v1/register", "", "", nil, 405, CodeMethodNotAllowed},
		{"POST", "/dmap/v1/docs/doc", "", "", nil, 405, CodeMethodNotAllowed},
		{"GET", "/dmap/v1/nothing", "", "", nil, 404, CodeNotFound},
		{"GET", "/", "", "", nil, 404, CodeNotFound},
		{"GET", "/dmap/v1/changes?since=-1", "", "", nil, 400, CodeBadField},
		{"GET", "/dmap/v1/changes?since=+1", "", "", nil, 400, CodeBadField},
		{"GET", "/dmap/v1/changes?since=1&since=2", "", "", nil, 400, CodeBadField},
		{"GET", "/dmap/v1/changes?limit=0", "", "", nil, 400, CodeBadField},
		{"GET", "/dmap/v1/changes?wait=soon", "", "", nil, 400, CodeBadField},
		{"GET", "/dmap/v1/changes?page=2", "", "", nil, 400, CodeBadField},
		{"GET", "/dmap/v1/changes?since=%zz", "", "", nil, 400, CodeBadField},
		{"GET", "/dmap/v1/docs/a%20b", "", "", nil, 400, CodeBadField},
		{"GET", "/dmap/v1/signet?name=a.test&fp=short", "", "", nil, 400, CodeBadField},
		{"GET", "/dmap/v1/history?address=nobody", "", "", nil, 400, CodeBadField},
		{"PUT", "/dmap/v1/docs/new", "application/octet-stream", "x", []string{"Umbra-Kind", "note"}, 428, CodePreconditionRequired},
		{"PUT", "/dmap/v1/docs/new", "application/octet-stream", "x", []string{"Umbra-Kind", "note", "If-Match", "W/\"0\""}, 400, CodeBadField},
		{"PUT", "/dmap/v1/docs/new", "application/octet-stream", "x", []string{"Umbra-Kind", "note", "If-Match", "*"}, 400, CodeBadField},
		{"PUT", "/dmap/v1/docs/new", "application/octet-stream", "x", []string{"If-Match", "0"}, 400, CodeBadField},
		{"PUT", "/dmap/v1/docs/new", "application/octet-stream", "x", []string{"If-Match", "0", "Umbra-Kind", "Note"}, 400, CodeBadField},
		{"PUT", "/dmap/v1/docs/new", "text/plain", "x", []string{"If-Match", "0", "Umbra-Kind", "note"}, 415, CodeUnsupportedMedia},
		{"PUT", "/dmap/v1/docs/new", "application/octet-stream", "x", []string{"If-Match", "0", "Umbra-Kind", "note"}, 201, ""},
		{"PUT", "/dmap/v1/docs/new", "application/octet-stream", "y", []string{"If-Match", `"1"`, "Umbra-Kind", "note"}, 200, ""},
		{"DELETE", "/dmap/v1/docs/new", "", "", []string{"If-Match", "0"}, 400, CodeBadField},
		{"DELETE", "/dmap/v1/docs/new", "", "", nil, 428, CodePreconditionRequired},
	}
	for _, tc := range cases {
		resp, data := e.raw(t, tc.method, tc.path, tok, tc.contentType, strings.NewReader(tc.body), tc.hdr...)
		if resp.StatusCode != tc.status || errCode(data) != tc.code {
			t.Errorf("%s %s %v: %d %s, want %d %s", tc.method, tc.path, tc.hdr, resp.StatusCode, data, tc.status, tc.code)
		}
		if ct := resp.Header.Get("Content-Type"); tc.code != "" && ct != "application/json" {
			t.Errorf("%s %s: error with Content-Type %q", tc.method, tc.path, ct)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q", tc.method, tc.path, resp.Header.Get("Cache-Control"))
		}
	}
}

// TestRanges: one byte range is served as 206; what RFC 9110 lets a server
// ignore gets the whole document; a range beyond the end is 416.
func TestRanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	tok := u.c.Tokens().Access
	doc := []byte("0123456789")
	if _, err := u.c.Put(t.Context(), "doc", "note", 0, doc); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rng, body, contentRange string
		status                  int
	}{
		{"bytes=0-0", "0", "bytes 0-0/10", 206},
		{"bytes=-3", "789", "bytes 7-9/10", 206},
		{"bytes=-30", "0123456789", "bytes 0-9/10", 206},
		{"bytes=5-", "56789", "bytes 5-9/10", 206},
		{"bytes=8-100", "89", "bytes 8-9/10", 206},
		{"bytes=0-1,3-4", "0123456789", "", 200},
		{"items=0-1", "0123456789", "", 200},
		{"bytes=5-2", "0123456789", "", 200},
		{"bytes=x-", "0123456789", "", 200},
		{"", "0123456789", "", 200},
		{"bytes=10-", "", "bytes */10", 416},
		{"bytes=-0", "", "bytes */10", 416},
	}
	for _, tc := range cases {
		var hdr []string
		if tc.rng != "" {
			hdr = []string{"Range", tc.rng}
		}
		resp, data := e.raw(t, "GET", "/dmap/v1/docs/doc", tok, "", nil, hdr...)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Range") != tc.contentRange {
			t.Errorf("%q: %d Content-Range %q, want %d %q", tc.rng, resp.StatusCode, resp.Header.Get("Content-Range"), tc.status, tc.contentRange)
			continue
		}
		if tc.status == 416 {
			if errCode(data) != CodeRangeNotSatisfiable {
				t.Errorf("%q: body %s", tc.rng, data)
			}
		} else if !bytes.Equal(data, []byte(tc.body)) || resp.Header.Get("Umbra-Revision") != "1" || resp.Header.Get("ETag") != `"1"` {
			t.Errorf("%q: body %q revision %q", tc.rng, data, resp.Header.Get("Umbra-Revision"))
		}
	}
	resp, data := e.raw(t, "HEAD", "/dmap/v1/docs/doc", tok, "", nil)
	if resp.StatusCode != 200 || len(data) != 0 || resp.ContentLength != 10 {
		t.Errorf("HEAD: %d, %d bytes, length %d", resp.StatusCode, len(data), resp.ContentLength)
	}
}

// trickle is a body that sends chunk bytes (at least 1) every gap, n
// bytes in all.
type trickle struct {
	n, chunk int
	gap      time.Duration
}

func (tr *trickle) Read(p []byte) (int, error) {
	if tr.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(tr.gap)
	k := min(max(tr.chunk, 1), tr.n, len(p))
	tr.n -= k
	clear(p[:k])
	return k, nil
}

// TestSlowBody: a body slower than the minimum rate is cut once the
// grace period is over and answered 408 too_slow, over HTTP/2 (one
// stream) and unauthenticated alike; a body at five times the rate is
// stored.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) {
		o.BodyRate = connguard.MinRate{BytesPerSec: 1000, Grace: 300 * time.Millisecond}
	})
	u := e.newUser(t, "alice")
	tok := u.c.Tokens().Access
	start := time.Now()
	resp, data := e.raw(t, http.MethodPut, "/dmap/v1/docs/slow", tok, "application/octet-stream", &trickle{n: 1000, gap: 20 * time.Millisecond},
		"If-Match", "0", "Umbra-Kind", "blob")
	took := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout || errCode(data) != CodeTooSlow {
		t.Fatalf("slow PUT: %d %s", resp.StatusCode, data)
	}
	if took > 5*time.Second {
		t.Fatalf("slow PUT answered after %v, want about 0.3 s", took)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("answered over HTTP/%d, want 2", resp.ProtoMajor)
	}
	resp, data = e.raw(t, http.MethodPost, "/dmap/v1/login", "", "application/json", &trickle{n: 100, gap: 50 * time.Millisecond})
	if resp.StatusCode != http.StatusRequestTimeout || errCode(data) != CodeTooSlow {
		t.Fatalf("slow login: %d %s", resp.StatusCode, data)
	}
	resp, data = e.raw(t, http.MethodPut, "/dmap/v1/docs/steady", tok, "application/octet-stream", &trickle{n: 2000, chunk: 100, gap: 20 * time.Millisecond},
		"If-Match", "0", "Umbra-Kind", "blob")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("steady PUT: %d %s", resp.StatusCode, data)
	}
	if e.fb.docCount(u.addr) != 1 {
		t.Fatal("want exactly the steady document stored")
	}
}

// TestBodyBudget: bodies hold memory from the spool's budget as they
// arrive; one that does not fit is answered 503 with Retry-After, and the
// budget is whole again afterwards.
func TestBodyBudget(t *testing.T) {
	t.Parallel()
	budget := connguard.NewBudget(256 << 10)
	sp, err := spool.New("", 0, budget, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.Spool = sp })
	u := e.newUser(t, "alice")
	tok := u.c.Tokens().Access
	resp, data := e.raw(t, http.MethodPut, "/dmap/v1/docs/big", tok, "application/octet-stream", bytes.NewReader(make([]byte, 300<<10)),
		"If-Match", "0", "Umbra-Kind", "blob")
	if resp.StatusCode != http.StatusServiceUnavailable || errCode(data) != CodeUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the budget: %d %s", resp.StatusCode, data)
	}
	resp, data = e.raw(t, http.MethodPut, "/dmap/v1/docs/small", tok, "application/octet-stream", bytes.NewReader(make([]byte, 100<<10)),
		"If-Match", "0", "Umbra-Kind", "blob")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("within the budget: %d %s", resp.StatusCode, data)
	}
	if now, peak := budget.Used(); now != 0 || peak > 256<<10 {
		t.Fatalf("budget: %d held after the requests, peak %d", now, peak)
	}
}

// TestSlowBodyHTTP1: over HTTP/1.1 a body below the minimum rate is
// answered 408 too_slow too, and the connection is closed rather than
// read on (net/http would otherwise try to read the rest before it
// answers).
func TestSlowBodyHTTP1(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) {
		o.BodyRate = connguard.MinRate{BytesPerSec: 1000, Grace: 300 * time.Millisecond}
	})
	u, err := url.Parse(e.base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /dmap/v1/login HTTP/1.1\r\nHost: a.test\r\nContent-Type: application/json\r\nContent-Length: 16000\r\n\r\n")
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	c.SetReadDeadline(start.Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || errCode(data) != CodeTooSlow || !resp.Close {
		t.Fatalf("slow HTTP/1.1 body: %d %s, close %v", resp.StatusCode, data, resp.Close)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("answered after %v, want about 0.3 s", took)
	}
}
