//go:build linux

package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"umbra/bridge"
	"umbra/testlog"
)

// TestThunderbirdTrustsBridgeCA: Thunderbird (the Debian package, headless)
// with a profile that has the exported CA imported with certutil and an
// IMAP account at the bridge with STARTTLS required logs in and downloads
// bob's inbox, with no certificate exception: the bridge logs the login
// and no TLS failure, the client side of the connection (seen through a
// recording relay) is STARTTLS and then TLS with the password never in
// the clear, and the profile's offline copy of INBOX holds the welcome
// message. Bounded to a minute; Thunderbird's process group is killed at
// the end.
func TestThunderbirdTrustsBridgeCA(t *testing.T) {
	t.Parallel()
	thunderbird := needProgram(t, "thunderbird")
	needProgram(t, "certutil")
	python := needProgram(t, "python3")
	d, caFile := demoCA(t)
	bob, tmp := d.info.Accounts[1], filepath.Dir(caFile)

	// Bob's bridge again, logging its logins for the test.
	var logs testlog.Buffer
	rb := restartDemoBridge(t, d, 1, bridge.Config{
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&logs, os.Stderr), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	relay := startRelay(t, rb.b.IMAPAddr())

	profile := filepath.Join(tmp, "profile")
	if err := os.Mkdir(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(relay.addr)
	p, _ := strconv.Atoi(port)
	runPythonOK(t, python, "thunderbird_profile.py", map[string]any{
		"profile": profile, "cafile": caFile, "port": p,
		"username": rb.b.Username(), "password": rb.b.MailPassword(), "address": bob.Address,
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tb := exec.Command(thunderbird, "--headless", "--no-remote", "-profile", profile)
	tb.Env = append(os.Environ(), "HOME="+tmp, "MOZ_HEADLESS=1", "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"))
	var tbOut testlog.Buffer
	tb.Stdout, tb.Stderr = &tbOut, &tbOut
	tb.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := tb.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { tb.Wait(); close(stopped) }()
	stop := func() {
		syscall.Kill(-tb.Process.Pid, syscall.SIGTERM)
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			syscall.Kill(-tb.Process.Pid, syscall.SIGKILL)
			<-stopped
		}
	}
	defer stop()

	inbox := filepath.Join(profile, "ImapMail", "localhost", "INBOX")
	for {
		// The welcome message's body: INBOX selected and the message fetched.
		if data, _ := os.ReadFile(inbox); bytes.Contains(data, []byte("Hello Bob,")) {
			break
		}
		if strings.Contains(logs.String(), "tls:") {
			break // a refused certificate: said below
		}
		select {
		case <-ctx.Done():
			stop()
			t.Fatalf("no welcome message in Thunderbird's offline INBOX within a minute\nbridge log:\n%s\nthunderbird:\n%s", logs.String(), tbOut.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	stop()

	log := logs.String()
	if !strings.Contains(log, `msg="imapd: login"`) {
		t.Errorf("the bridge logged no login:\n%s", log)
	}
	if strings.Contains(log, "tls:") || strings.Contains(log, "login failed") {
		t.Errorf("the bridge logged a TLS or login failure:\n%s", log)
	}
	sent := []byte(relay.sent.String())
	starttls := bytes.Index(sent, []byte("STARTTLS\r\n"))
	if starttls < 0 || bytes.Contains(sent, []byte(rb.b.MailPassword())) || bytes.Contains(bytes.ToUpper(sent[:starttls]), []byte("LOGIN")) {
		t.Errorf("not STARTTLS first, or the password crossed in the clear:\n%q", sent[:min(len(sent), 400)])
	}
}

// relay forwards connections to a server and keeps what clients sent.
type relay struct {
	addr string
	sent testlog.Buffer
}

// startRelay listens on an ephemeral port of 127.0.0.1 and relays each
// connection to server until the test ends.
func startRelay(t *testing.T, server string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &relay{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", server)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go func() { io.Copy(s, io.TeeReader(c, &r.sent)); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return r
}
