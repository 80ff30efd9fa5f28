package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"umbra/bridge"
	"umbra/tlscert"
)

// TestBridgeCATrustedByClients: the CA certificate `umbra bridge cert
// export` writes is what real TLS stacks accept as the bridge's trust
// anchor. NSS, the library of Thunderbird, imports it as a CA (the old
// self-signed certificate was refused: "not a certificate authority
// certificate") and validates the served certificate with it; Python's
// ssl verifies STARTTLS and implicit-TLS connections with it alone. It
// also shows the demo's bridge keeps its CA and password across a
// restart on the same directory.
func TestBridgeCATrustedByClients(t *testing.T) {
	t.Parallel()
	certutil := needProgram(t, "certutil")
	python := needProgram(t, "python3")
	d, caFile := demoCA(t)
	bob, tmp := d.info.Accounts[1], filepath.Dir(caFile)
	caPEM := mustRead(t, caFile)
	if out := mustUmbra(t, "bridge", "cert", "export", "--dir", bob.Dir); out != string(caPEM) {
		t.Errorf("export to stdout and to a file differ:\n%s\n%s", out, caPEM)
	}
	blk, _ := pem.Decode(caPEM)
	if blk == nil {
		t.Fatalf("export wrote no PEM:\n%s", caPEM)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("export wrote no CA certificate (%v)", err)
	}

	// Restart bob's bridge on the same directory, with implicit TLS too.
	rb := restartDemoBridge(t, d, 1, bridge.Config{
		IMAPS: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if again := mustUmbra(t, "bridge", "cert", "export", "--dir", bob.Dir); again != string(caPEM) {
		t.Error("the CA changed with the restart")
	}
	if rb.b.MailPassword() != bob.Password {
		t.Error("the password changed with the restart")
	}
	var printed strings.Builder
	printClientSettings(&printed, rb.b)
	for _, want := range append(append(rb.b.IMAPAddrs(), rb.b.SMTPAddrs()...), rb.b.IMAPSAddrs()...) {
		if !strings.Contains(printed.String(), want) {
			t.Errorf("the printed settings lack %s:\n%s", want, printed.String())
		}
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	c, err := tls.Dial("tcp", rb.b.IMAPSAddrs()[0], &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.ConnectionState().PeerCertificates[0]
	c.Close()
	leafFile := filepath.Join(tmp, "leaf.pem")
	if err := os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("NSS", func(t *testing.T) {
		nss := func(db string, args ...string) (string, error) {
			out, err := exec.Command(certutil, append(args, "-d", "sql:"+db)...).CombinedOutput()
			return string(out), err
		}
		must := func(db string, args ...string) {
			t.Helper()
			if out, err := nss(db, args...); err != nil {
				t.Fatalf("certutil %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		for _, db := range []string{filepath.Join(tmp, "nss"), filepath.Join(tmp, "nss-without-ca")} {
			if err := os.Mkdir(db, 0o700); err != nil {
				t.Fatal(err)
			}
			must(db, "-N", "--empty-password")
			must(db, "-A", "-n", "leaf", "-t", ",,", "-i", leafFile)
		}
		db := filepath.Join(tmp, "nss")
		// Trusted to issue server certificates ("C"), as Thunderbird's
		// "trust this CA to identify websites" does.
		must(db, "-A", "-n", "umbra", "-t", "C,,", "-i", caFile)
		if out, err := nss(db, "-V", "-u", "V", "-n", "leaf"); err != nil || !strings.Contains(out, "certificate is valid") {
			t.Errorf("NSS does not validate the served certificate with the exported CA: %v\n%s", err, out)
		}
		if out, err := nss(db, "-L", "-n", "umbra"); err != nil || !strings.Contains(out, "Is a CA with a maximum path length of 0") || !strings.Contains(out, "Trusted CA") {
			t.Errorf("NSS does not take the exported certificate for a CA: %v\n%s", err, out)
		}
		if out, err := nss(filepath.Join(tmp, "nss-without-ca"), "-V", "-u", "V", "-n", "leaf"); err == nil && strings.Contains(out, "certificate is valid") {
			t.Errorf("NSS validates the served certificate without the CA:\n%s", out)
		}
	})

	t.Run("Python", func(t *testing.T) {
		runPythonOK(t, python, "tlsclients.py", map[string]any{
			"cafile": caFile, "username": rb.b.Username(), "password": rb.b.MailPassword(),
			"imap": rb.b.IMAPAddrs(), "imaps": rb.b.IMAPSAddrs(), "smtp": rb.b.SMTPAddrs(),
		})
	})
}

// TestCertExportRefusesOldCertificate: the certificate a bridge from
// before the CA left is not exported as if it were one.
func TestCertExportRefusesOldCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old, err := tlscert.New([]string{"localhost", "127.0.0.1", "::1"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, bridge.CertFile), old.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	failUmbra(t, "start the bridge once to make the CA", "bridge", "cert", "export", "--dir", dir)
}

// demoCA starts the demo and exports the CA of bob's bridge (the demo's
// second account) with `umbra bridge cert export` to a file in a
// temporary directory.
func demoCA(t *testing.T) (*demo, string) {
	t.Helper()
	d := startTestDemo(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	mustUmbra(t, "bridge", "cert", "export", "--dir", d.info.Accounts[1].Dir, caFile)
	return d, caFile
}

// restartDemoBridge closes the bridge of the demo's account i and starts
// it again on the same directory with cfg, on ephemeral ports of
// 127.0.0.1 (and ::1) where cfg names none. The demo closes it.
func restartDemoBridge(t *testing.T, d *demo, i int, cfg bridge.Config) *runningBridge {
	t.Helper()
	acct := d.info.Accounts[i]
	d.bridges[i].close()
	pw, err := readSecretFile(filepath.Join(d.dir, "accounts", acct.Address+".password"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.IMAP, cfg.SMTP = cmp.Or(cfg.IMAP, "127.0.0.1:0"), cmp.Or(cfg.SMTP, "127.0.0.1:0")
	rb, err := startBridgeConfig(context.Background(), acct.Dir, []byte(pw), d.net.Resolver(), 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.bridges[i] = rb
	return rb
}

// runPythonOK runs the script testdata/script with a file holding the
// JSON of settings as its argument, and fails the test unless it prints
// "ok".
func runPythonOK(t *testing.T, python, script string, settings any) {
	t.Helper()
	sf := filepath.Join(t.TempDir(), "settings.json")
	data, err := json.Marshal(settings)
	if err == nil {
		err = os.WriteFile(sf, data, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, filepath.Join("testdata", script), sf)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil || !bytes.Equal(bytes.TrimSpace(out), []byte("ok")) {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}
