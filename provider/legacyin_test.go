package provider_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"umbra/dmime"
	"umbra/provider"
	"umbra/provider/store"
	"umbra/signet"
	"umbra/testnet"
)

// legacyNet is b.test running in-process with its MX and the account
// bob@b.test.
func legacyNet(t *testing.T, override func(*provider.Config)) (*testnet.Node, *testnet.User) {
	t.Helper()
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	nd, err := n.AddProvider("b.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(override); err != nil {
		t.Fatal(err)
	}
	bob, err := nd.NewUser(t.Context(), "bob@b.test")
	if err != nil {
		t.Fatal(err)
	}
	return nd, bob
}

// sendLegacy sends msg to rcpt at the node's MX, in the clear, and
// returns the reply to DATA.
func sendLegacy(t *testing.T, nd *testnet.Node, rcpt, msg string) error {
	t.Helper()
	c, err := smtp.Dial(nd.MX)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail("carol@legacy.test", []string{rcpt}, strings.NewReader(msg))
}

const legacyMsg = "From: Carol <carol@legacy.test>\r\nTo: bob@b.test\r\nSubject: the plans for Tuesday\r\n" +
	"Message-ID: <tuesday-plans@legacy.test>\r\n\r\nMeet me at the old mill at nine.\r\n"

// TestLegacyMailSealedOnArrival: a message from the legacy world is in
// bob's mailbox as D/MIME that bob opens, whose author is the MX (the
// organisation's first message key), and nothing of it is readable in
// the provider's files.
func TestLegacyMailSealedOnArrival(t *testing.T) {
	t.Parallel()
	nd, bob := legacyNet(t, nil)
	if err := sendLegacy(t, nd, "bob@b.test", legacyMsg); err != nil {
		t.Fatalf("send: %v", err)
	}
	ctx := t.Context()
	st := nd.Provider.Store()
	changes, err := st.Mailbox().Changes(ctx, "bob@b.test", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	for _, c := range changes {
		if c.Kind == store.KindMail {
			doc, err := st.Mailbox().Get(ctx, "bob@b.test", c.DocID)
			if err != nil {
				t.Fatal(err)
			}
			sealed = doc.Data
		}
	}
	if sealed == nil {
		t.Fatalf("no message in bob's mailbox: %+v", changes)
	}
	org := nd.Provider.Org().Signet
	var mime bytes.Buffer
	opened, err := dmime.Open(bytes.NewReader(sealed), dmime.RoleRecipient, bob.Enc, dmime.OpenOptions{
		MIME: &mime, Recipient: "bob@b.test",
		AuthorKey: func(a string, fp signet.Fingerprint, _ *dmime.Carried) (ed25519.PublicKey, error) {
			if a != "b.test" || !fp.Equal(org.Fingerprint()) {
				return nil, errors.New("the author is not the MX of b.test")
			}
			return org.MessageKeys()[0], nil
		},
		OriginKeys: org.MessageKeys(),
	})
	if err != nil {
		t.Fatalf("bob cannot open it: %v", err)
	}
	if !opened.AuthorVerified || !opened.OriginVerified {
		t.Fatal("signatures not verified")
	}
	got := mime.String()
	if !strings.HasSuffix(got, "\r\n\r\nMeet me at the old mill at nine.\r\n") || !strings.Contains(got, "Authentication-Results: b.test;") {
		t.Fatalf("bob reads:\n%s", got)
	}
	// The provider cannot open it as author: that keyslot's key is gone.
	if _, err := dmime.Open(bytes.NewReader(sealed), dmime.RoleAuthor, nd.Provider.Org().Enc, dmime.OpenOptions{MIME: io.Discard,
		AuthorKey: func(string, signet.Fingerprint, *dmime.Carried) (ed25519.PublicKey, error) {
			return org.MessageKeys()[0], nil
		}}); !errors.Is(err, dmime.ErrKeyslot) {
		t.Fatalf("the provider opened the author keyslot: %v", err)
	}
	nd.Stop()
	scanFiles(t, nd.Dir, "the plans for Tuesday", "old mill", "carol@legacy.test", "tuesday-plans")
}

// TestLegacySealFailure: when sealing fails the sender gets 451, and the
// provider's directory holds not one new byte of the message.
func TestLegacySealFailure(t *testing.T) {
	t.Parallel()
	nd, _ := legacyNet(t, nil)
	provider.SetSealHook(nd.Provider, func(string) error { return errors.New("injected sealing failure") })
	before := snapshot(t, nd.Dir)
	err := sendLegacy(t, nd, "bob@b.test", legacyMsg)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("send with sealing broken: %v, want 451", err)
	}
	if after := snapshot(t, nd.Dir); !maps.Equal(before, after) {
		t.Errorf("the provider's files changed:\nbefore %v\nafter  %v", before, after)
	}
	changes, err := nd.Provider.Store().Mailbox().Changes(context.Background(), "bob@b.test", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c.Kind == store.KindMail {
			t.Fatal("a message was stored although sealing failed")
		}
	}
	nd.Stop()
	scanFiles(t, nd.Dir, "the plans for Tuesday", "old mill", "carol@legacy.test", "tuesday-plans")
}

// snapshot is the SHA-256 of every file under dir but SQLite's -shm,
// the WAL index in shared memory, which every read updates (read marks)
// and which never holds row data.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	m := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "-shm") {
			return err
		}
		b, err := os.ReadFile(path)
		m[path] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scanFiles fails if any file under dir holds one of secrets, raw.
func scanFiles(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	for path, s := range filesHolding(t, dir, secrets...) {
		t.Errorf("%s holds %q", path, s)
	}
}

// filesHolding returns the files under dir that hold one of needles,
// raw, each with the first it holds.
func filesHolding(t *testing.T, dir string, needles ...string) map[string]string {
	t.Helper()
	found := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				found[path] = n
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestLegacyLargeMessageSpooled: a legacy message over the spool's memory
// bound waits, while it is checked and sealed, in a file that has no name
// and holds none of its text (encrypted under a key only the process
// holds); bob then reads exactly what was sent, and the provider's files
// hold none of it.
func TestLegacyLargeMessageSpooled(t *testing.T) {
	t.Parallel()
	nd, bob := legacyNet(t, nil)
	marker := "Line of the confidential annual report, quarter four.\r\n"
	msg := "From: Carol <carol@legacy.test>\r\nTo: bob@b.test\r\nSubject: annual report\r\n\r\n" +
		strings.Repeat(marker, (5<<20)/len(marker))
	held, release := make(chan struct{}), make(chan struct{})
	provider.SetSealHook(nd.Provider, func(string) error {
		close(held)
		<-release
		return nil
	})
	sent := make(chan error, 1)
	go func() { sent <- sendLegacy(t, nd, "bob@b.test", msg) }()
	select {
	case <-held:
	case err := <-sent:
		t.Fatalf("send ended before sealing: %v", err)
	}
	spoolDir := filepath.Join(nd.Dir, provider.SpoolDir)
	if ents, err := os.ReadDir(spoolDir); err != nil || len(ents) != 0 {
		t.Errorf("the spool lists %d files (%v) while a message waits in it; want none", len(ents), err)
	}
	// The file is open in this process (the provider runs in it): read it
	// through /proc.
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	files := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil || !strings.HasPrefix(target, spoolDir+string(filepath.Separator)) {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files++
		if len(data) < len(msg) {
			t.Errorf("spool file of %d bytes for a message of %d", len(data), len(msg))
		}
		if bytes.Contains(data, []byte("confidential annual")) || bytes.Contains(data, []byte("annual report")) {
			t.Errorf("the spool file %s holds the message's text", target)
		}
	}
	if files == 0 {
		t.Error("no spool file open while a 5 MiB message is sealed")
	}
	close(release)
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}

	st := nd.Provider.Store()
	changes, err := st.Mailbox().Changes(t.Context(), "bob@b.test", 0, 10)
	if err != nil || len(changes) == 0 {
		t.Fatalf("bob's mailbox: %v, %d changes", err, len(changes))
	}
	doc, err := st.Mailbox().Get(t.Context(), "bob@b.test", changes[len(changes)-1].DocID)
	if err != nil {
		t.Fatal(err)
	}
	org := nd.Provider.Org().Signet
	var mime bytes.Buffer
	if _, err := dmime.Open(bytes.NewReader(doc.Data), dmime.RoleRecipient, bob.Enc, dmime.OpenOptions{
		MIME: &mime, Recipient: "bob@b.test",
		AuthorKey: func(string, signet.Fingerprint, *dmime.Carried) (ed25519.PublicKey, error) {
			return org.MessageKeys()[0], nil
		},
		OriginKeys: org.MessageKeys(),
	}); err != nil {
		t.Fatalf("bob cannot open it: %v", err)
	}
	if !strings.HasSuffix(mime.String(), msg[strings.Index(msg, "\r\n\r\n"):]) {
		t.Errorf("bob reads %d bytes, not the body sent", mime.Len())
	}
	nd.Stop()
	scanFiles(t, nd.Dir, "confidential annual", "annual report", "carol@legacy.test")
}
