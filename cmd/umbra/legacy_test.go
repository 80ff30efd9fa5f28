package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-smtp"

	"umbra/bridge/mailstore"
)

// headerOf fetches, through the account's bridge over IMAP, the header of
// the one INBOX message whose subject contains subject.
func headerOf(t *testing.T, a demoAccount, subject string) string {
	t.Helper()
	return fetchOf(t, a, "INBOX", subject, imap.PartSpecifierHeader)
}

// fetchOf fetches, through the account's bridge over IMAP, the part
// (imap.PartSpecifierNone: all) of the one message of mailbox whose
// subject contains subject.
func fetchOf(t *testing.T, a demoAccount, mailbox, subject string, part imap.PartSpecifier) string {
	t.Helper()
	c := imapSession(t, a.IMAP, a.Username, a.Password)
	if _, err := c.Select(mailbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
	if err != nil || len(uids.AllUIDs()) != 1 {
		t.Fatalf("search %q in %s: %v %v", subject, mailbox, uids, err)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(uids.AllUIDs()...), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: part, Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 || len(msgs[0].BodySection) != 1 {
		t.Fatalf("fetch: %v", err)
	}
	return string(msgs[0].BodySection[0].Bytes)
}

// swaks runs swaks against server and returns its transcript and exit
// code.
func swaks(t *testing.T, server string, args ...string) (string, int) {
	t.Helper()
	bin := needProgram(t, "swaks")
	cmd := exec.Command(bin, append([]string{"--server", server, "--timeout", "30"}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("swaks: %v", err)
	}
	return string(out), code
}

// TestLegacyInbound: mail from the legacy world, sent by swaks over
// STARTTLS to b.test's MX, reaches bob's mail client through his bridge,
// sealed on arrival, with a truthful Umbra-Security field; no part of it
// is readable in b.test's files.
func TestLegacyInbound(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	bob := d.info.Accounts[1]
	mx := d.info.Providers[1].MX
	d.net.DNS.AddTXT("legacy.test.", "v=spf1 ip4:127.0.0.1 -all")
	body := filepath.Join(t.TempDir(), "msg.eml")
	msg := "From: Carol <carol@legacy.test>\r\nTo: bob@b.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_der_alten_Welt?=\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n" +
		"Message-ID: <legacy-1@legacy.test>\r\n\r\nDie Mühle um neun, am Dienstag.\r\n"
	if err := os.WriteFile(body, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := swaks(t, mx, "--tls", "--ehlo", "legacy.test", "--from", "carol@legacy.test", "--to", "bob@b.test", "--data", "@"+body)
	if code != 0 || !strings.Contains(out, "<~  250 ") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", "alten Welt")
	h := headerOf(t, bob, "alten Welt")
	want := "Umbra-Security: legacy; not end-to-end encrypted; via=b.test; tls=TLS1.3; spf=pass dkim=none dmarc=none\r\n"
	if !strings.HasPrefix(h, want) {
		t.Errorf("header starts:\n%s\nwant %s", h, want)
	}
	if !strings.Contains(h, "Authentication-Results: b.test;") || !strings.Contains(h, "Received: from legacy.test ([127.0.0.1]) (using TLS1.3)") {
		t.Errorf("the MX's trace is missing:\n%s", h)
	}
	d.net.Node("b.test").Stop()
	assertNoSecrets(t, d.net.Node("b.test").Dir, nil, map[string][]byte{
		"body line": []byte("Die Mühle um neun"), "subject": []byte("Gr=C3=BC=C3=9Fe_aus_der_alten_Welt"),
		"sender": []byte("carol@legacy.test"), "Message-ID": []byte("legacy-1@legacy.test"),
	})
}

// TestLegacyMXHostile throws what strangers send at an MX: unknown and
// foreign recipients, an oversize message, garbage, a thousand RCPTs,
// pipelined floods, a UTF-8 address, and plaintext commands injected
// behind STARTTLS. Each gets its reply, and the MX still delivers after.
func TestLegacyMXHostile(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	mx := d.info.Providers[1].MX
	run := func(what, wantReply string, args ...string) {
		t.Helper()
		out, _ := swaks(t, mx, append([]string{"--from", "x@legacy.test"}, args...)...)
		if !strings.Contains(out, wantReply) {
			t.Errorf("%s: no %q in:\n%s", what, wantReply, out)
		}
	}
	run("unknown recipient", "<** 550 5.1.1", "--to", "nobody@b.test")
	run("another domain", "<** 550 5.7.1", "--to", "someone@elsewhere.test")
	var rcpts []string
	for i := range 1000 {
		rcpts = append(rcpts, fmt.Sprintf("bob+%d@b.test", i))
	}
	rcpts[0] = "bob@b.test"
	run("1,000 recipients", "<** 550 5.1.1", "--to", strings.Join(rcpts, ","), "--pipeline")

	big := filepath.Join(t.TempDir(), "big.eml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "Subject: too big\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for n := 0; n < 33<<20; n += len(line) {
		w.WriteString(line)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run("oversize", "<** 552 5.3.4", "--to", "bob@b.test", "--data", "@"+big)

	// Garbage and a pipelined flood on one connection: each line
	// answered, then the connection closed after too many errors.
	nc, err := net.Dial("tcp", mx)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(nc)
	flood := "EHLO x\r\n" + strings.Repeat("NOOP\r\n", 2000) + "\x00\xff\xfe garbage\r\nFOO BAR\r\nMAIL TO:<x>\r\nRCPT\r\nDATA\r\n"
	if _, err := nc.Write([]byte(flood)); err != nil {
		t.Fatal(err)
	}
	var replies []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			break
		}
		replies = append(replies, strings.TrimRight(l, "\r\n"))
	}
	nc.Close()
	last := replies[len(replies)-1]
	if noops := countPrefix(replies, "250 2.0.0"); noops < 2000 || !strings.HasPrefix(last, "421") && !strings.HasPrefix(last, "5") {
		t.Errorf("flood: %d NOOPs answered, last reply %q", noops, last)
	}

	// STARTTLS with a command behind it in the same packet: the command
	// must be discarded, not run inside TLS (CVE-2011-0411's class).
	nc, err = net.Dial("tcp", mx)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	br = bufio.NewReader(nc)
	fmt.Fprintf(nc, "EHLO x\r\n")
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, "250 ") {
			break
		}
	}
	fmt.Fprintf(nc, "STARTTLS\r\nMAIL FROM:<injected@legacy.test>\r\n")
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "220") {
		t.Fatalf("STARTTLS: %q", l)
	}
	tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
	tbr := bufio.NewReader(tc)
	fmt.Fprintf(tc, "EHLO x\r\nRCPT TO:<bob@b.test>\r\n")
	var got []string
	for len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "250 ") {
		l, err := tbr.ReadString('\n')
		if err != nil {
			t.Fatalf("after STARTTLS: %v %q", err, got)
		}
		got = append(got, strings.TrimRight(l, "\r\n"))
	}
	if l, _ := tbr.ReadString('\n'); !strings.HasPrefix(l, "5") {
		t.Errorf("RCPT after STARTTLS ran as if the injected MAIL had been accepted: %q", l)
	}

	// SMTPUTF8: a UTF-8 sender address and 8-bit content.
	c, err := smtp.Dial(mx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("jürgen@bücher.test", &smtp.MailOptions{UTF8: true, Body: smtp.Body8BitMIME}); err != nil {
		t.Fatalf("MAIL SMTPUTF8: %v", err)
	}
	if err := c.Rcpt("bob@b.test", nil); err != nil {
		t.Fatal(err)
	}
	wc, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(wc, "From: jürgen@bücher.test\r\nSubject: Grüße in UTF-8\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nÄÖÜ\r\n")
	if err := wc.Close(); err != nil {
		t.Fatalf("SMTPUTF8 message: %v", err)
	}
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", "Grüße in UTF-8")
}

func countPrefix(lines []string, p string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, p) {
			n++
		}
	}
	return n
}

// TestLegacyBounceReachesInbox: mail to a domain that accepts none (a
// null MX, RFC 7505) is refused permanently by the relay, and the author
// reads the delivery status notice in her inbox through her bridge,
// marked as her provider's own notice, naming the recipient and why.
func TestLegacyBounceReachesInbox(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	alice := d.info.Accounts[0]
	d.net.DNS.Add(t, "nomail.test. 300 IN MX 0 .")
	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	msg := "From: alice@a.test\r\nTo: nobody@nomail.test\r\nSubject: into the void\r\n\r\nhello?\r\n"
	if err := sendOne(sc, alice.Address, "nobody@nomail.test", []byte(msg)); err != nil {
		t.Fatalf("the bridge refused a legacy recipient: %v", err)
	}
	waitMailbox(t, d.bridges[0].b.Store(), "INBOX", "Undeliverable: into the void")
	h := headerOf(t, alice, "Undeliverable: into the void")
	if !strings.HasPrefix(h, "Umbra-Security: local; notice from your provider a.test\r\n") {
		t.Errorf("the notice's header:\n%s", h)
	}
	c := imapSession(t, alice.IMAP, alice.Username, alice.Password)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{"null MX"}}, nil).Wait()
	if err != nil || len(uids.AllUIDs()) != 1 {
		t.Fatalf("the notice does not say why (null MX): %v %v", uids, err)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(uids.AllUIDs()...), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatal(err)
	}
	body := string(msgs[0].BodySection[0].Bytes)
	for _, want := range []string{"Your message to nobody@nomail.test could not be delivered", "Final-Recipient: rfc822; nobody@nomail.test",
		"Action: failed", "Content-Type: text/rfc822-headers", "Subject: into the void"} {
		if !strings.Contains(body, want) {
			t.Errorf("the notice lacks %q:\n%s", want, body)
		}
	}
}

// TestDuplicateRecipientsOneCopy: a client that names bob three times in
// RCPT gets him one copy. A marker sent after it comes last: by then any
// duplicate would be in bob's inbox.
func TestDuplicateRecipientsOneCopy(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	alice, bob := d.info.Accounts[0], d.info.Accounts[1]
	sc, err := dialSubmission(alice.SMTP, alice.Dir, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.Mail(alice.Address); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"bob@b.test", "BOB@b.test", "bob@b.test"} {
		if err := sc.Rcpt(r); err != nil {
			t.Fatal(err)
		}
	}
	w, err := sc.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "From: alice@a.test\r\nTo: bob@b.test\r\nSubject: only once\r\n\r\nhi\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sendOne(sc, alice.Address, bob.Address, []byte("From: alice@a.test\r\nTo: bob@b.test\r\nSubject: the marker\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	st := d.bridges[1].b.Store()
	waitMailbox(t, st, "INBOX", "the marker")
	mb, err := st.Mailbox(t.Context(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	uids, err := st.Search(t.Context(), mb.ID, mailstore.FieldSubject, "only once")
	if err != nil || len(uids) != 1 {
		t.Fatalf("bob has %d copies (%v)", len(uids), err)
	}
}
