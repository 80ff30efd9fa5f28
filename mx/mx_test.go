package mx

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"umbra/connguard"
	"umbra/spool"
)

const plainMsg = "From: Carol <carol@sender.test>\r\nTo: bob@b.test\r\nSubject: hello\r\n" +
	"Authentication-Results: b.test; spf=pass smtp.mailfrom=forged@sender.test\r\n" +
	"Authentication-Results: elsewhere.test; dkim=pass header.d=sender.test\r\n" +
	"\r\nA body line.\r\n"

// TestReceiveChecksSender sends a DKIM-signed message over STARTTLS from
// an address whose SPF allows 127.0.0.1 and whose DMARC policy is
// published: the backend gets one copy per distinct recipient with the
// verdicts in the header, and a forged result claiming our authserv-id is
// gone.
func TestReceiveChecksSender(t *testing.T) {
	t.Parallel()
	m := startMX(t, nil)
	m.be.users["alice@b.test"] = true
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.dns.AddTXT("sender.test.", "v=spf1 ip4:127.0.0.1 -all")
	m.dns.AddTXT("sel._domainkey.sender.test.", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	m.dns.AddTXT("_dmarc.sender.test.", "v=DMARC1; p=reject")
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(plainMsg), &dkim.SignOptions{
		Domain: "sender.test", Selector: "sel", Signer: priv,
		HeaderKeys: []string{"From", "To", "Subject"},
	}); err != nil {
		t.Fatal(err)
	}
	c := m.dial(t, true)
	if err := send(c, "carol@sender.test", []string{"bob@b.test", "BOB@b.test", "alice@b.test"}, signed.String()); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := m.be.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	d := got[0]
	if strings.Join(d.rcpts, ",") != "bob@b.test,alice@b.test" {
		t.Errorf("recipients %q: duplicates must merge", d.rcpts)
	}
	if d.env.TLS != "TLS1.3" || d.env.MailFrom != "carol@sender.test" || d.env.Helo != "localhost" {
		t.Errorf("envelope %+v", d.env)
	}
	a := d.env.Auth
	if a.SPF != "pass" || a.DMARC != "pass" || len(a.DKIM) != 1 || a.DKIM[0].Value != "pass" || a.DKIM[0].Domain != "sender.test" {
		t.Errorf("auth %+v", a)
	}
	head := string(d.msg[:headerEnd(d.msg)])
	if !strings.HasPrefix(head, "Received: from localhost ([127.0.0.1]) (using TLS1.3)\r\n\tby mx.b.test (Umbra) with ESMTPS id ") {
		t.Errorf("Received field:\n%s", head)
	}
	if n := strings.Count(head, "Authentication-Results: b.test;"); n != 1 {
		t.Errorf("%d Authentication-Results fields with our authserv-id, want only ours:\n%s", n, head)
	}
	for _, want := range []string{"spf=pass", "dkim=pass", "header.d=sender.test", "dmarc=pass", "header.from=sender.test",
		"Authentication-Results: elsewhere.test; dkim=pass"} {
		if !strings.Contains(head, want) {
			t.Errorf("header lacks %q:\n%s", want, head)
		}
	}
	if strings.Contains(head, "forged@") {
		t.Errorf("the forged result survived:\n%s", head)
	}
	if !bytes.HasSuffix(d.msg, []byte("\r\n\r\nA body line.\r\n")) {
		t.Errorf("body changed: %q", d.msg)
	}
}

// TestSenderChecksFail: SPF -all from another address, a tampered DKIM
// signature, and DMARC failing as a result; in the clear.
func TestSenderChecksFail(t *testing.T) {
	t.Parallel()
	m := startMX(t, nil)
	pub, priv, _ := ed25519.GenerateKey(nil)
	m.dns.AddTXT("sender.test.", "v=spf1 ip4:192.0.2.1 -all")
	m.dns.AddTXT("sel._domainkey.sender.test.", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	m.dns.AddTXT("_dmarc.sender.test.", "v=DMARC1; p=reject")
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(plainMsg), &dkim.SignOptions{Domain: "sender.test", Selector: "sel", Signer: priv}); err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(signed.String(), "A body line.", "A body lime.", 1)
	c := m.dial(t, false)
	if err := send(c, "carol@sender.test", []string{"bob@b.test"}, tampered); err != nil {
		t.Fatalf("send: %v", err)
	}
	d := m.be.deliveries()[0]
	a := d.env.Auth
	if a.SPF != "fail" || a.DKIM[0].Value != "fail" || a.DMARC != "fail" || d.env.TLS != "" {
		t.Errorf("auth %+v tls %q", a, d.env.TLS)
	}
	if !bytes.Contains(d.msg, []byte("(in the clear)")) || !bytes.Contains(d.msg, []byte("with ESMTP id")) {
		t.Errorf("Received does not say the message came in the clear:\n%s", d.msg)
	}
}

// TestRecipientErrors: an unknown user 550, another domain 550 (no
// relaying), and the twentieth refusal closes the connection with 421.
func TestRecipientErrors(t *testing.T) {
	t.Parallel()
	m := startMX(t, nil)
	c := m.dial(t, false)
	if err := c.Mail("x@sender.test", nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < maxRefusedRcpts; i++ {
		if err := c.Rcpt(fmt.Sprintf("nobody%d@b.test", i), nil); code(err) != 550 {
			t.Fatalf("unknown recipient %d: %v", i, err)
		}
	}
	if err := c.Rcpt("bob@b.test", nil); err != nil {
		t.Fatalf("a known recipient among unknown ones: %v", err)
	}
	if err := c.Rcpt("last@b.test", nil); code(err) != 421 {
		t.Fatalf("refusal %d: %v, want 421", maxRefusedRcpts, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.srv.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection stayed open after 421")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(m.logs.String(), "level=ERROR") {
		t.Errorf("a client's fault logged at ERROR:\n%s", m.logs)
	}
}

// TestMemoryBudget: a message larger than what is left of the budget is
// answered 451 at once, and the budget is whole again afterwards.
func TestMemoryBudget(t *testing.T) {
	t.Parallel()
	budget := connguard.NewBudget(256 << 10)
	sp, err := spool.New("", 0, budget, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := startMX(t, func(c *Config) { c.Spool = sp })
	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 8<<10)
	c := m.dial(t, false)
	if err := send(c, "x@sender.test", []string{"bob@b.test"}, big); code(err) != 451 {
		t.Fatalf("over the budget: %v, want 451", err)
	}
	c2 := m.dial(t, false)
	if err := send(c2, "x@sender.test", []string{"bob@b.test"}, "Subject: small\r\n\r\nhi\r\n"); err != nil {
		t.Fatalf("a small message after: %v", err)
	}
	if now, _ := budget.Used(); now != 0 {
		t.Fatalf("%d bytes of the budget not given back", now)
	}
}

// TestLimits: SIZE is enforced (552) and a client beyond the
// per-address cap is refused with 421 before any command.
func TestLimits(t *testing.T) {
	t.Parallel()
	m := startMX(t, func(c *Config) { c.MaxMessageSize = 10 << 10; c.MaxPerAddr = 2 })
	c := m.dial(t, false)
	if err := send(c, "x@sender.test", []string{"bob@b.test"}, "Subject: x\r\n\r\n"+strings.Repeat("yyyyyyyyy\r\n", 2<<10)); code(err) != 552 {
		t.Fatalf("oversize: %v, want 552", err)
	}
	m.dial(t, false)
	nc, err := net.Dial("tcp", m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(nc).ReadString('\n')
	if !strings.HasPrefix(line, "421 4.7.0 too many connections from your address") {
		t.Fatalf("third connection from one address: %q", line)
	}
}

// TestDataTimeout: a client that trickles its message is cut off at the
// DATA deadline with 421.
func TestDataTimeout(t *testing.T) {
	t.Parallel()
	m := startMX(t, func(c *Config) { c.DataTimeout = 500 * time.Millisecond })
	nc, err := net.Dial("tcp", m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "EHLO x\r\nMAIL FROM:<x@sender.test>\r\nRCPT TO:<bob@b.test>\r\nDATA\r\nSubject: slow\r\n\r\n")
	start := time.Now()
	var last string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		last = line
		if strings.HasPrefix(line, "354") {
			go func() {
				for i := 0; i < 100; i++ {
					if _, err := nc.Write([]byte("x")); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
	}
	if !strings.HasPrefix(last, "421 4.4.2") {
		t.Fatalf("last reply %q, want 421 4.4.2", last)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("closed after %v", el)
	}
}

// TestShutdownWaitsForDelivery: Shutdown returns only after a delivery
// under way has been answered.
func TestShutdownWaitsForDelivery(t *testing.T) {
	t.Parallel()
	m := startMX(t, nil)
	m.be.hold, m.be.held = make(chan struct{}), make(chan struct{})
	c := m.dial(t, false)
	sent := make(chan error, 1)
	go func() { sent <- send(c, "x@sender.test", []string{"bob@b.test"}, "Subject: x\r\n\r\nhi\r\n") }()
	<-m.be.held
	shut := make(chan error, 1)
	go func() { shut <- m.srv.Shutdown(t.Context()) }()
	select {
	case <-shut:
		t.Fatal("Shutdown returned while a delivery was under way")
	case <-time.After(200 * time.Millisecond):
	}
	close(m.be.hold)
	if err := <-sent; err != nil {
		t.Fatalf("the delivery under way: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if len(m.be.deliveries()) != 1 {
		t.Fatal("not delivered")
	}
}

// TestNoNewDeliveryDuringShutdown: a connection accepted before Shutdown
// that sends DATA while Shutdown waits for a delivery under way gets 421
// and nothing of its message is kept (under -race, the count of
// deliveries going up while Shutdown waits on it was a data race).
func TestNoNewDeliveryDuringShutdown(t *testing.T) {
	t.Parallel()
	m := startMX(t, nil)
	m.be.hold, m.be.held = make(chan struct{}), make(chan struct{})
	first, second := m.dial(t, false), m.dial(t, false)
	if err := second.Mail("y@sender.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := second.Rcpt("bob@b.test", nil); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- send(first, "x@sender.test", []string{"bob@b.test"}, "Subject: x\r\n\r\nhi\r\n") }()
	<-m.be.held
	shut := make(chan error, 1)
	go func() { shut <- m.srv.Shutdown(t.Context()) }()
	for !m.srv.isClosed() {
		time.Sleep(time.Millisecond)
	}
	w, err := second.Data()
	if err == nil {
		_, _ = io.WriteString(w, "Subject: y\r\n\r\nlate\r\n")
		err = w.Close()
	}
	if code(err) != 421 || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("DATA during Shutdown: %v, want 421 shutting down", err)
	}
	close(m.be.hold)
	if err := <-sent; err != nil {
		t.Fatalf("the delivery under way: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if n := len(m.be.deliveries()); n != 1 {
		t.Fatalf("%d deliveries, want the one under way", n)
	}
}

// TestBackendFailure: an error from the backend is 451 and logged
// without anything of the message.
func TestBackendFailure(t *testing.T) {
	t.Parallel()
	m := startMX(t, nil)
	m.be.failed = errors.New("sealing broke")
	c := m.dial(t, false)
	err := send(c, "secret-sender@sender.test", []string{"bob@b.test"}, "Subject: secret subject\r\n\r\nsecret body\r\n")
	if code(err) != 451 {
		t.Fatalf("backend failure: %v, want 451", err)
	}
	logs := m.logs.String()
	for _, s := range []string{"secret", "sender.test"} {
		if strings.Contains(logs, s) {
			t.Errorf("the log names %q:\n%s", s, logs)
		}
	}
}

// TestHeaderBounds: a message without a header section, and one whose
// header section passes maxHeader, are refused with 554 5.6.0 saying
// which; the connection serves the next message.
func TestHeaderBounds(t *testing.T) {
	t.Parallel()
	m := startMX(t, nil)
	c := m.dial(t, false)
	err := send(c, "x@sender.test", []string{"bob@b.test"}, "just a line, no header and no blank line\r\n")
	if code(err) != 554 || !strings.Contains(err.Error(), "no header section") {
		t.Errorf("no header: %v, want 554 ... no header section", err)
	}
	long := "Subject: long\r\n" + strings.Repeat("X-Filler: 0123456789abcdef0123456789abcdef0123456789abcdef\r\n", (maxHeader/60)+100) + "\r\nbody\r\n"
	err = send(c, "x@sender.test", []string{"bob@b.test"}, long)
	if code(err) != 554 || !strings.Contains(err.Error(), "longer than 256 KiB") {
		t.Errorf("long header: %v, want 554 ... longer than 256 KiB", err)
	}
	if err := send(c, "x@sender.test", []string{"bob@b.test"}, "Subject: fine\r\n\r\nhi\r\n"); err != nil {
		t.Errorf("a good message after: %v", err)
	}
	if n := len(m.be.deliveries()); n != 1 {
		t.Errorf("%d deliveries, want the good one", n)
	}
}
