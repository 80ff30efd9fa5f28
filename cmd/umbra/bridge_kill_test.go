package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"umbra/bridge"
	"umbra/provider/store/postgres/pgtest"
	"umbra/testnet"
)

// childArgsEnv carries, separated by US (0x1f), the umbra arguments a re-executed
// test binary runs instead of the tests (the kill test SIGKILLs it).
const childArgsEnv = "UMBRA_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(childArgsEnv); a != "" {
		os.Exit(run(strings.Split(a, "\x1f"), os.Stdin, os.Stdout, os.Stderr))
	}
	umbraCommand = func(args ...string) (*exec.Cmd, error) { return childCommand(args...), nil }
	os.Exit(pgtest.Main(m, pg))
}

// childCommand is `umbra ARGS...` run by the test binary in a child process.
func childCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+strings.Join(args, "\x1f"))
	return cmd
}

// bridgeChild is `umbra bridge` in a child process.
type bridgeChild struct {
	cmd            *exec.Cmd
	imap, password string
}

var settingRe = regexp.MustCompile(`^(IMAP|password)\s+(\S+)`)

// startChild runs `umbra ARGS…` in the test binary re-executed, killed
// when t ends; its standard output is read through the scanner.
func startChild(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := childCommand(args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

// drain reads the rest of a child's output, so that it never blocks
// writing.
func drain(sc *bufio.Scanner) {
	go func() {
		for sc.Scan() {
		}
	}()
}

func startBridgeChild(t *testing.T, args ...string) *bridgeChild {
	t.Helper()
	cmd, sc := startChild(t, append([]string{"bridge"}, args...)...)
	c := &bridgeChild{cmd: cmd}
	for (c.imap == "" || c.password == "") && sc.Scan() {
		if m := settingRe.FindStringSubmatch(sc.Text()); m != nil {
			if m[1] == "IMAP" {
				c.imap = m[2]
			} else {
				c.password = m[2]
			}
		}
	}
	if c.imap == "" || c.password == "" {
		t.Fatalf("the bridge child printed no settings: %v", sc.Err())
	}
	drain(sc)
	return c
}

func (c *bridgeChild) kill(t *testing.T) { t.Helper(); killChild(t, c.cmd) }

// killChild SIGKILLs a child started by startChild and reaps it.
func killChild(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

// inboxCount asks the bridge over IMAP how many messages INBOX holds.
func inboxCount(t *testing.T, addr, user, password string) uint32 {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return *st.NumMessages
}

// TestBridgeKilledDuringInitialSync SIGKILLs the bridge in the middle of
// its first sync of 5,000 messages, restarts it, and checks that it
// fetches only what it did not have and ends with exactly 5,000.
func TestBridgeKilledDuringInitialSync(t *testing.T) {
	t.Parallel()
	const total = 5000
	a := newAcctNet(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "alice")
	pw := secretFile(t, "correct horse battery staple")
	mustUmbra(t, "account", "create", "alice@a.test", "--invite", a.invite(t, "alice@a.test"), a.dns(),
		"--dir", dir, "--password-file", pw, "--phrase-out", filepath.Join(t.TempDir(), "phrase"), "--name", "t")
	u := signetOf(t, dir)
	sender, err := a.nd.NewUser(ctx, "sender@a.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.nd.Deliver(ctx, sender, &testnet.User{Address: u.Address, Signet: u}, a.nd, total, func(i int) []byte { return testnet.MailMIME(i, 2048) }); err != nil {
		t.Fatal(err)
	}

	args := []string{"--dir", dir, "--password-file", pw, a.dns(), "--imap", "127.0.0.1:0", "--smtp", "127.0.0.1:0", "--log-level", "warn"}
	first := startBridgeChild(t, args...)
	var had int64
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		st, err := bridge.ReadStatus(dir)
		if err == nil && st.Received >= total/5 {
			had = st.Received
			// Progress is honest: where the feed ends, and short of it.
			if !st.CatchingUp || st.Head < total || st.Cursor >= st.Head {
				t.Errorf("status while catching up: cursor %d of head %d, catching up %v", st.Cursor, st.Head, st.CatchingUp)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first bridge never got to %d messages: %+v %v", total/5, st, err)
		}
	}
	first.kill(t)
	if had >= total {
		t.Fatalf("the sync finished (%d) before the kill; the test proves nothing", had)
	}
	t.Logf("killed after at least %d of %d messages", had, total)

	second := startBridgeChild(t, args...)
	var n uint32
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if n = inboxCount(t, second.imap, "alice@a.test", second.password); n >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart INBOX holds %d of %d", n, total)
		}
	}
	st, err := bridge.ReadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second run: %d messages received, %d message documents downloaded", st.Received, st.FetchedMessages)
	// Only what it did not have is fetched again: at most one message was
	// stored but not yet recorded when the kill came.
	if st.FetchedMessages > st.Received+1 || st.Received > total-had {
		t.Errorf("second run downloaded %d message documents and added %d; it had %d of %d", st.FetchedMessages, st.Received, had, total)
	}
	time.Sleep(time.Second)
	if n = inboxCount(t, second.imap, "alice@a.test", second.password); n != total {
		t.Fatalf("INBOX holds %d, want exactly %d", n, total)
	}
}
