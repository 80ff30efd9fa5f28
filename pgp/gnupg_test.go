package pgp

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// gnupg runs the real GnuPG in a throw-away home directory, for differential
// tests.
type gnupg struct {
	t    testing.TB
	home string
	n    int // status files written
}

// newGnuPG skips the test when gpg is missing, except under CI, where a
// missing gpg is a failure.
func newGnuPG(t testing.TB) *gnupg {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("gpg not installed")
		}
		t.Fatal("gpg not installed, and CI is set")
	}
	g := &gnupg{t: t, home: t.TempDir()}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+g.home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("gpgconf --kill gpg-agent: %v: %s", err, out)
		}
	})
	return g
}

// Run runs gpg with args and stdin; it returns stdout and the --status-file
// lines, and fails the test if gpg fails.
func (g *gnupg) Run(stdin []byte, args ...string) (stdout, status []byte) {
	g.t.Helper()
	stdout, status, err := g.TryRun(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %q: %v", args, err)
	}
	return stdout, status
}

// TryRun is Run, returning gpg's failure (with its stderr) as an error.
func (g *gnupg) TryRun(stdin []byte, args ...string) (stdout, status []byte, err error) {
	g.t.Helper()
	g.n++
	statusFile := filepath.Join(g.home, "status-"+strconv.Itoa(g.n)+".txt")
	full := append([]string{"--homedir", g.home, "--batch", "--no-tty", "--pinentry-mode", "loopback",
		"--passphrase", "", "--trust-model", "always", "--status-file", statusFile}, args...)
	cmd := exec.Command("gpg", full...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+g.home)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	runErr := cmd.Run()
	status, _ = os.ReadFile(statusFile)
	if runErr != nil {
		return out.Bytes(), status, &gpgError{runErr, errOut.String()}
	}
	return out.Bytes(), status, nil
}

type gpgError struct {
	err    error
	stderr string
}

func (e *gpgError) Error() string { return e.err.Error() + ": " + e.stderr }

// GenerateKey has gpg make a "future-default" (Ed25519 + Curve25519) key
// without passphrase for address and returns its armored public key.
func (g *gnupg) GenerateKey(address string) []byte {
	g.t.Helper()
	g.Run(nil, "--quick-gen-key", "<"+address+">", "future-default", "default", "never")
	pub, _ := g.Run(nil, "--armor", "--export", address)
	return pub
}

// Import imports a key (public or secret) into gpg's keyring.
func (g *gnupg) Import(key []byte) {
	g.t.Helper()
	g.Run(key, "--import")
}
