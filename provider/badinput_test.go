package provider_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"umbra/dmime"
	"umbra/dmtp"
	"umbra/keyfile"
	"umbra/provider"
	"umbra/provider/store"
	"umbra/signet"
)

// dialB opens a greeted DMTP session to b.test as a.test would.
func (w *world) dialB(t *testing.T) *dmtp.Client {
	t.Helper()
	cl, err := dmtp.Dial(context.Background(), w.b.DMTP, dmtp.PinnedConfig(w.b.Record.TLSPin, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Hello("a.test"); err != nil {
		t.Fatal(err)
	}
	return cl
}

// sendAsA runs MAIL FROM a.test, RCPT b.test, DATA msg.
func sendAsA(cl *dmtp.Client, msg []byte) error {
	return streamAsA(cl, bytes.NewReader(msg), int64(len(msg)))
}

// streamAsA is sendAsA for a message of size bytes read from r.
func streamAsA(cl *dmtp.Client, r io.Reader, size int64) error {
	if err := cl.Mail("a.test", signet.Fingerprint{}); err != nil {
		return err
	}
	if err := cl.Rcpt("b.test", signet.Fingerprint{}); err != nil {
		return err
	}
	return cl.Data(r, size)
}

// wantReply asserts err is a DMTP reply with code and enhanced status.
func wantReply(t *testing.T, what string, err error, code int, enhanced string) {
	t.Helper()
	var de *dmtp.Error
	if !errors.As(err, &de) || de.Code != code || de.Enhanced != enhanced {
		t.Errorf("%s: got %v, want %d %s", what, err, code, enhanced)
	}
}

// sealWith seals alice's message to an arbitrary recipient party and signs
// it as origin with key (nil: no origin signature).
func (w *world) sealWith(t *testing.T, recipient dmime.Party, dest *signet.Org, originKey ed25519.PrivateKey) []byte {
	t.Helper()
	var sealed bytes.Buffer
	_, err := dmime.Seal(&sealed, bytes.NewReader(mimeMessage("x", "y")), w.sealParams(t, recipient, dest))
	if err != nil {
		t.Fatal(err)
	}
	if originKey == nil {
		return sealed.Bytes()
	}
	var signed bytes.Buffer
	if err := dmime.SignOrigin(&signed, &sealed, originKey); err != nil {
		t.Fatal(err)
	}
	return signed.Bytes()
}

// sealParams seals alice's message, as a.test's user, to recipient at
// dest.
func (w *world) sealParams(t *testing.T, recipient dmime.Party, dest *signet.Org) dmime.SealParams {
	t.Helper()
	ao, err := w.a.OrgSignet()
	if err != nil {
		t.Fatal(err)
	}
	return dmime.SealParams{
		Author:      dmime.Party{Address: w.alice.Address, Fingerprint: w.alice.Signet.Fingerprint(), Enc: w.alice.Signet.Enc},
		AuthorKey:   w.alice.Signing,
		Origin:      dmime.Party{Address: ao.Domain, Fingerprint: ao.Fingerprint(), Enc: ao.Enc},
		Destination: dmime.Party{Address: dest.Domain, Fingerprint: dest.Fingerprint(), Enc: dest.Enc},
		Recipient:   recipient,
	}
}

func (w *world) aSOK(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := keyfile.ReadSigning(filepath.Join(w.a.Dir, provider.SOKFile))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Every kind of bad input gets a clear reply and stores nothing.
func TestBadInputStoresNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bo, err := w.b.OrgSignet()
	if err != nil {
		t.Fatal(err)
	}
	bob := dmime.Party{Address: w.bob.Address, Fingerprint: w.bob.Signet.Fingerprint(), Enc: w.bob.Signet.Enc}
	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))

	// Garbage and over-long command lines, on a raw TLS connection.
	conn, err := tls.Dial("tcp", w.b.DMTP, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{dmtp.ALPN}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	readReply := func() string {
		var last string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read reply: %v", err)
			}
			last = line
			if len(line) < 4 || line[3] != '-' {
				return last
			}
		}
	}
	readReply() // greeting
	for _, c := range []struct{ send, want string }{
		{"EHLO a.test\r\n", "250 "},
		{"FROBNICATE\r\n", "500 "},
		{"MAIL FROM:<" + strings.Repeat("x", 600) + ">\r\n", "500 "},
		{"MAIL FROM:<alice@a.test>\r\n", "501 "},
	} {
		if _, err := conn.Write([]byte(c.send)); err != nil {
			t.Fatal(err)
		}
		if got := readReply(); !strings.HasPrefix(got, c.want) {
			t.Errorf("%q: reply %q, want %q", c.send[:min(len(c.send), 30)], got, c.want)
		}
	}

	good := w.sealWith(t, bob, bo, w.aSOK(t))
	wantReply(t, "wrong origin signature", sendAsA(w.dialB(t), w.sealWith(t, bob, bo, stranger)), 554, "5.7.1")
	wantReply(t, "missing origin signature", sendAsA(w.dialB(t), w.sealWith(t, bob, bo, nil)), 554, "5.7.1")
	ghost := bob
	ghost.Address = "ghost@b.test"
	wantReply(t, "unknown recipient", sendAsA(w.dialB(t), w.sealWith(t, ghost, bo, w.aSOK(t))), 550, "5.1.1")
	carol := bob
	carol.Address = "carol@c.test"
	wantReply(t, "destination chunk names another domain", sendAsA(w.dialB(t), w.sealWith(t, carol, bo, w.aSOK(t))), 554, "5.1.2")
	stale := bob
	stale.Fingerprint = signet.Fingerprint{1}
	wantReply(t, "recipient key not in bob's chain", sendAsA(w.dialB(t), w.sealWith(t, stale, bo, w.aSOK(t))), 550, "5.7.0")
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 1
	wantReply(t, "tampered message", sendAsA(w.dialB(t), flipped), 554, "5.6.0")
	cl := w.dialB(t)
	if err := cl.Mail("a.test", signet.Fingerprint{}); err != nil {
		t.Fatal(err)
	}
	wantReply(t, "RCPT TO another domain", cl.Rcpt("c.test", signet.Fingerprint{}), 550, "5.1.2")
	cl = w.dialB(t)
	wantReply(t, "MAIL FROM b.test itself", cl.Mail("b.test", signet.Fingerprint{}), 550, "5.7.1")
	wantReply(t, "MAIL FROM a domain without a record", cl.Mail("nowhere.test", signet.Fingerprint{}), 550, "5.7.0")

	if n := mailCount(t, w); n != 0 {
		t.Fatalf("bob has %d messages after bad input, want 0", n)
	}
	// The good message still goes through on a fresh session.
	if err := sendAsA(w.dialB(t), good); err != nil {
		t.Fatal(err)
	}
	// And a second time: acknowledged, stored once.
	if err := sendAsA(w.dialB(t), good); err != nil {
		t.Fatal(err)
	}
	if n := mailCount(t, w); n != 1 {
		t.Fatalf("bob has %d messages after one message sent twice, want 1", n)
	}
}

// mailCount counts the documents in bob's mailbox at the in-process b.test.
func mailCount(t *testing.T, w *world) int {
	t.Helper()
	n := 0
	var since int64
	for {
		page, err := w.b.Provider.Store().Mailbox().Changes(context.Background(), w.bob.Address, since, store.MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page)
		if len(page) < store.MaxPage {
			return n
		}
		since = page[len(page)-1].Seq
	}
}

// A message larger than the advertised SIZE is refused before its body is
// sent, and nothing is stored.
func TestDataOverLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.b.Stop()
	if err := w.b.Start(func(c *provider.Config) { c.MaxMessageSize = 16 << 10 }); err != nil {
		t.Fatal(err)
	}
	cl := w.dialB(t)
	if cl.MaxSize() != 16<<10 {
		t.Fatalf("SIZE %d, want %d", cl.MaxSize(), 16<<10)
	}
	big := make([]byte, 20<<10)
	wantReply(t, "DATA over SIZE", sendAsA(cl, big), 552, "5.3.4")
	if n := mailCount(t, w); n != 0 {
		t.Fatalf("bob has %d messages, want 0", n)
	}
}
