package provider_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/dmime"
	"umbra/dmtp"
	"umbra/provider"
	"umbra/signet"
	"umbra/testnet"
)

// restartB restarts b.test with its configuration adjusted by f.
func (w *world) restartB(t *testing.T, f func(c *provider.Config)) {
	t.Helper()
	w.b.Stop()
	if err := w.b.Start(func(c *provider.Config) { fastRetries(c); f(c) }); err != nil {
		t.Fatal(err)
	}
}

// rawDMTP opens a TLS connection to addr from the local address from
// ("" for any) and reads the greeting.
func rawDMTP(t *testing.T, addr, from string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{dmtp.ALPN}, MinVersion: tls.VersionTLS13}}
	if from != "" {
		d.NetDialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*tls.Conn)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
		t.Fatalf("greeting %q, %v", line, err)
	}
	return c, r
}

// rawCmd sends one command and returns the last line of its reply.
func rawCmd(t *testing.T, c *tls.Conn, r *bufio.Reader, cmd string) string {
	t.Helper()
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if len(line) < 4 || line[3] != '-' {
			return line
		}
	}
}

// TestDMTPPerAddressCap: past its per-address cap a client is answered
// "421 4.7.0" in clear before TLS, which dmtp.Dial returns as a reply;
// another address is still served (docs/spec/dmtp.md §7).
func TestDMTPPerAddressCap(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.restartB(t, func(c *provider.Config) { c.Limits.DMTPMaxPerAddr = 2 })
	for range 2 {
		c, err := net.Dial("tcp", w.b.DMTP)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	_, err := dmtp.Dial(t.Context(), w.b.DMTP, dmtp.PinnedConfig(w.b.Record.TLSPin, "127.0.0.1"))
	wantReply(t, "third connection from 127.0.0.1", err, 421, "4.7.0")
	if err != nil && !strings.Contains(err.Error(), "from your address") {
		t.Errorf("refusal %v does not say why", err)
	}
	rawDMTP(t, w.b.DMTP, "127.0.0.2")
}

// TestInflightBudget: a body that holds most of the in-flight budget
// makes the next message that does not fit in the rest wait its turn with
// "421 4.3.2" (the sender's queue retries), and once it is gone the
// message is stored once.
func TestInflightBudget(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const max = 1 << 20
	w.restartB(t, func(c *provider.Config) {
		c.MaxMessageSize = max
		c.Limits.InflightMemory = (max + dmime.MaxTraceChunk) * 3 / 2 // the least allowed
	})
	// A message of about half a mebibyte: more than the budget leaves.
	sealed, err := testnet.Seal(w.alice, w.a, w.bob, w.b, mimeMessage("big", strings.Repeat("z", 500<<10)))
	if err != nil {
		t.Fatal(err)
	}
	var signed bytes.Buffer
	if err := dmime.SignOrigin(&signed, bytes.NewReader(sealed), w.aSOK(t)); err != nil {
		t.Fatal(err)
	}
	good := signed.Bytes()
	// And one of 900 KiB, of which a hog sends the first 600 KiB: its
	// buffer has grown to the message's size, two thirds of the budget,
	// and the checks that stream over it wait for the rest. (A body that
	// is no message is refused at its first bytes and holds nothing.)
	big, err := testnet.Seal(w.alice, w.a, w.bob, w.b, mimeMessage("bigger", strings.Repeat("z", 900<<10)))
	if err != nil {
		t.Fatal(err)
	}
	hog, r := rawDMTP(t, w.b.DMTP, "")
	for _, cmd := range []string{"EHLO a.test", "MAIL FROM:<a.test>", "RCPT TO:<b.test>", fmt.Sprintf("DATA %d", len(big))} {
		if line := rawCmd(t, hog, r, cmd); line[0] != '2' && line[0] != '3' {
			t.Fatalf("%s: %q", cmd, line)
		}
	}
	if _, err := hog.Write(big[:600<<10]); err != nil {
		t.Fatal(err)
	}
	// The server reads what arrives at once; give it a moment under load.
	time.Sleep(200 * time.Millisecond)
	wantReply(t, "message while the budget is held", sendAsA(w.dialB(t), good), 421, "4.3.2")
	hog.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := sendAsA(w.dialB(t), good)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("budget not given back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := mailCount(t, w); n != 1 {
		t.Fatalf("bob has %d messages, want 1", n)
	}
}

// TestDMAPPerAddressCap: past its per-address cap a client's connection
// to DMAP is closed before TLS; another address is still served.
func TestDMAPPerAddressCap(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.restartB(t, func(c *provider.Config) { c.Limits.DMAPMaxPerAddr = 2 })
	addr := w.b.Provider.DMAPAddr()
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("third connection from 127.0.0.1: read %d, %v; want it closed", n, err)
	}
	resp, err := clientFrom(t, w, "127.0.0.2").Get(w.b.DMAP + "devices")
	if err != nil {
		t.Fatalf("from 127.0.0.2: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("from 127.0.0.2: %d, want 401 (served)", resp.StatusCode)
	}
}

// TestOriginLookupOnce: a burst of sessions from a domain b.test has not
// validated yet makes one look-up, which all of them share: with a.test
// accepting a single connection per address, a look-up each would be
// refused and the sessions answered 451.
func TestOriginLookupOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.a.Stop()
	if err := w.a.Start(func(c *provider.Config) { fastRetries(c); c.Limits.DMTPMaxPerAddr = 1 }); err != nil {
		t.Fatal(err)
	}
	w.restartB(t, func(c *provider.Config) { c.Limits.DMTPMaxPerAddr = 100 })
	const n = 40
	clients := make([]*dmtp.Client, n)
	for i := range clients {
		clients[i] = w.dialB(t)
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() { errs <- cl.Mail("a.test", signet.Fingerprint{}) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("MAIL FROM a.test in a burst: %v", err)
		}
	}
}
