package dmap

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	benchDocs    = 10000
	benchDocSize = 50 << 10
)

// BenchmarkChangesAndDownload syncs 10,000 documents of 50 KB over
// loopback HTTPS (TLS 1.3, HTTP/2): the changes feed page by page, then
// every document, through dmap.Client with its token and checks; and in
// the same iteration downloads the same bytes from a plain HTTPS handler
// (same TLS and HTTP/2 set-up, no DMAP) with a plain http.Client. It
// reports both rates and their ratio. The fake backend serves every
// document from one shared buffer in memory, so the figures are the
// protocol's cost, not storage's. "seq" fetches one document at a time,
// "par8" eight at once over the one HTTP/2 connection.
func BenchmarkChangesAndDownload(b *testing.B) {
	e := newEnv(b, nil)
	u := e.newUser(b, "alice")
	blob := make([]byte, benchDocSize)
	rand.Read(blob)
	e.fb.mu.Lock()
	a := e.fb.accounts[u.addr]
	for i := range benchDocs {
		a.seq++
		id := fmt.Sprintf("doc-%05d", i)
		a.docs[id] = &Document{Change: Change{ID: id, Kind: "mail", Revision: 1, Seq: a.seq, Size: benchDocSize}, Data: blob}
	}
	e.fb.mu.Unlock()

	plain := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(blob))) // as a file server would
		_, _ = w.Write(blob)
	}))
	plain.EnableHTTP2 = true
	plain.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	plain.StartTLS()
	defer plain.Close()
	pc := plain.Client()

	for _, workers := range []int{1, 8} {
		name := "seq"
		if workers > 1 {
			name = fmt.Sprintf("par%d", workers)
		}
		b.Run(name, func(b *testing.B) {
			var dmapTime, plainTime time.Duration
			for b.Loop() {
				start := time.Now()
				ids := syncFeed(b, u.c)
				fetchAll(b, workers, ids, func(id string) int {
					d, err := u.c.Get(b.Context(), id)
					if err != nil {
						b.Fatal(err)
					}
					return len(d.Data)
				})
				dmapTime += time.Since(start)

				start = time.Now()
				fetchAll(b, workers, ids, func(id string) int {
					resp, err := pc.Get(plain.URL + "/" + id)
					if err != nil {
						b.Fatal(err)
					}
					// Into memory, as the DMAP client does.
					var buf bytes.Buffer
					buf.Grow(int(resp.ContentLength) + 1)
					_, err = buf.ReadFrom(resp.Body)
					resp.Body.Close()
					if err != nil {
						b.Fatal(err)
					}
					return buf.Len()
				})
				plainTime += time.Since(start)
			}
			n := float64(b.N) * benchDocs
			b.ReportMetric(n/dmapTime.Seconds(), "dmap-docs/s")
			b.ReportMetric(n/plainTime.Seconds(), "plain-docs/s")
			b.ReportMetric(n*benchDocSize/dmapTime.Seconds()/1e6, "dmap-MB/s")
			b.ReportMetric(dmapTime.Seconds()/plainTime.Seconds(), "dmap/plain-time")
		})
	}
}

// syncFeed pages through the whole change feed and returns the ids.
func syncFeed(b *testing.B, c *Client) []string {
	ids := make([]string, 0, benchDocs)
	since := int64(0)
	for {
		p, err := c.Changes(b.Context(), since, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, ch := range p.Changes {
			ids = append(ids, ch.ID)
		}
		since = p.Next
		if !p.More {
			break
		}
	}
	if len(ids) != benchDocs {
		b.Fatalf("feed listed %d documents", len(ids))
	}
	return ids
}

// fetchAll runs fetch for every id on workers goroutines and checks sizes.
func fetchAll(b *testing.B, workers int, ids []string, fetch func(string) int) {
	var wg sync.WaitGroup
	next := make(chan string)
	for range workers {
		wg.Go(func() {
			for id := range next {
				if n := fetch(id); n != benchDocSize {
					b.Errorf("%s: %d bytes", id, n)
				}
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
}
