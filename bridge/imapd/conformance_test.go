package imapd

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// minExchanges is the least the conformance suite must exchange with a
// server (issue 10: at least 300).
const minExchanges = 300

// TestConformance runs the differential IMAP conformance suite
// (testdata/conformance.py, Python's imaplib and raw exchanges) against
// this package's server over a real store, and against Debian's Dovecot
// started on the side: the same script must pass on both, so the suite
// itself is checked against a trusted server. Where Dovecot and the RFC,
// or Dovecot and this server, may legitimately differ, the script says
// so at the place (look for DIFF).
func TestConformance(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("python3 not installed")
		}
		t.Fatal("python3 not installed, and CI is set")
	}
	t.Run("umbra", func(t *testing.T) {
		t.Parallel()
		e := start(t, nil)
		runConformance(t, python, e.addr, "umbra", testUser, testPass)
	})
	t.Run("dovecot", func(t *testing.T) {
		t.Parallel()
		d := startDovecot(t, testUser, testPass)
		runConformance(t, python, d.addr, "dovecot", testUser, testPass)
	})
}

var exchangesLine = regexp.MustCompile(`(?m)^exchanges: (\d+)$`)

func runConformance(t *testing.T, python, addr, server, user, pass string) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(python, "testdata/conformance.py", "--host", host, "--port", port,
		"--server", server, "--user", user, "--password", pass)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("%s", out.String())
	if err != nil {
		t.Fatalf("conformance suite against %s: %v", server, err)
	}
	m := exchangesLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("the suite did not report its exchanges")
	}
	if n, _ := strconv.Atoi(m[1]); n < minExchanges {
		t.Errorf("%d exchanges, want at least %d", n, minExchanges)
	}
}
