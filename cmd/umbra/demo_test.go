package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"umbra/bridge/mailstore"
)

// needProgram returns the path of an outside program the test needs. It
// skips the test when the program is absent, except under CI, where the
// absence is a failure (.ci/run installs it).
func needProgram(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is needed and not installed (test.sh installs it)", name)
	}
	t.Skipf("%s is not installed; skipping (CI installs it)", name)
	return ""
}

// startTestDemo runs the demo on ephemeral ports in a temporary directory.
func startTestDemo(t *testing.T) *demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := startDemo(ctx, filepath.Join(t.TempDir(), "demo"), true, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	return d
}

// secondDevice logs address in on another device, name (`umbra account
// login` from its key backup, into the demo's accounts directory), and
// starts that device's bridge on ephemeral ports.
func secondDevice(t *testing.T, d *demo, address, name string) *runningBridge {
	t.Helper()
	dir := filepath.Join(d.dir, "accounts", address+"-"+name)
	pwFile := filepath.Join(d.dir, "accounts", address+".password")
	mustUmbra(t, "account", "login", address, "--dns", d.net.DNS.Addr, "--dir", dir, "--password-file", pwFile, "--name", name)
	pw, err := readSecretFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rb, err := startBridge(context.Background(), dir, []byte(pw), d.net.Resolver(), "127.0.0.1:0", "127.0.0.1:0", nil, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rb.close() })
	return rb
}

// waitMailbox waits until the mailbox of a bridge holds a message whose
// subject contains want.
func waitMailbox(t *testing.T, st *mailstore.Store, mailbox, want string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, fmt.Sprintf("no message %q in %s", want, mailbox), func() bool {
		mb, err := st.Mailbox(ctx, mailbox)
		if err != nil {
			return false
		}
		uids, err := st.Search(ctx, mb.ID, mailstore.FieldSubject, want)
		return err == nil && len(uids) > 0
	})
}

func TestDemoWritesSettingsAndWelcome(t *testing.T) {
	t.Parallel()
	d := startTestDemo(t)
	data, err := os.ReadFile(filepath.Join(d.dir, demoFile))
	if err != nil {
		t.Fatal(err)
	}
	var info demoInfo
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Accounts) != 2 || len(info.Providers) != 2 {
		t.Fatalf("demo.json: %s", data)
	}
	for _, a := range info.Accounts {
		if !strings.HasPrefix(a.IMAP, "127.0.0.1:") || !strings.HasPrefix(a.SMTP, "127.0.0.1:") || a.Password == "" || a.Username != a.Address {
			t.Errorf("account settings %+v", a)
		}
	}
	waitMailbox(t, d.bridges[1].b.Store(), "INBOX", "Welcome to Umbra")

	out := mustUmbra(t, "bridge", "status", "--dir", info.Accounts[1].Dir)
	for _, want := range []string{"account     bob@b.test", "state       online", "IMAP        " + info.Accounts[1].IMAP, "outbox      0 messages waiting"} {
		if !strings.Contains(out, want) {
			t.Errorf("bridge status lacks %q:\n%s", want, out)
		}
	}
	certFile := filepath.Join(t.TempDir(), "bridge.pem")
	mustUmbra(t, "bridge", "cert", "export", "--dir", info.Accounts[1].Dir, certFile)
	pemData, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemData)
	if block == nil {
		t.Fatalf("cert export wrote no PEM: %q", pemData)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// The bridge's CA (TestBridgeCATrustedByClients checks what it verifies).
	if !cert.IsCA {
		t.Error("cert export wrote no CA certificate")
	}
}

// TestMailClients runs Python's smtplib and imaplib through the whole
// story: send with a UTF-8 subject and a binary attachment, receive intact,
// reply, flag, move to a new folder, search, delete, and alice's second
// device sees her Sent copy. Then no file of either provider or any bridge
// holds the subject, a body line or the folder name.
func TestMailClients(t *testing.T) {
	t.Parallel()
	python := needProgram(t, "python3")
	d := startTestDemo(t)
	alice, bob := d.info.Accounts[0], d.info.Accounts[1]

	rb := secondDevice(t, d, alice.Address, "laptop")

	token := make([]byte, 6)
	rand.Read(token)
	account := func(a demoAccount) map[string]string {
		return map[string]string{"address": a.Address, "imap": a.IMAP, "smtp": a.SMTP, "username": a.Username, "password": a.Password}
	}
	settings := map[string]any{
		"alice": account(alice), "bob": account(bob), "token": hex.EncodeToString(token),
		"alice2": map[string]string{"address": alice.Address, "imap": rb.b.IMAPAddr(), "smtp": rb.b.SMTPAddr(), "username": rb.b.Username(), "password": rb.b.MailPassword()},
	}
	sf := filepath.Join(t.TempDir(), "settings.json")
	data, _ := json.Marshal(settings)
	if err := os.WriteFile(sf, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/mailclients.py", sf)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mailclients.py: %v\n%s", err, out)
	}
	var used map[string]string
	if err := json.Unmarshal(out, &used); err != nil {
		t.Fatalf("mailclients.py output %q: %v", out, err)
	}

	// Let the bridges push what the clients did, then close everything so
	// that every file is complete, and scan.
	d.close()
	rb.close()
	secrets := map[string][]byte{
		"subject":     []byte(used["subject"]),
		"subject tag": []byte("Umbra-" + used["token"]), // the folder's last part
		"body line":   []byte(used["body_line"]),
		"folder name": []byte(used["folder"]),
	}
	for _, root := range []string{filepath.Join(d.dir, "providers"), filepath.Join(d.dir, "accounts")} {
		assertNoSecrets(t, root, nil, secrets)
	}
}
