package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"umbra/testnet"
	"umbra/vault"
)

// acctNet is a one-provider network on loopback for the account verbs:
// a.test, with its _dime record (dmap= and tls=) in the network's DNS.
type acctNet struct {
	n  *testnet.Network
	nd *testnet.Node
}

func newAcctNet(t *testing.T) *acctNet {
	t.Helper()
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	nd, err := n.AddProvider("a.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(nil); err != nil {
		t.Fatal(err)
	}
	return &acctNet{n: n, nd: nd}
}

// invite is the operator's `server user add`.
func (a *acctNet) invite(t *testing.T, address string) string {
	t.Helper()
	code, err := a.nd.Provider.AddUser(context.Background(), address)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// dns is the --dns flag pointing at the network's DNS server.
func (a *acctNet) dns() string { return "--dns=" + a.n.DNS.Addr }

// umbraStdin runs the CLI in-process with stdin.
func umbraStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// mustUmbra runs the CLI and fails the test unless it exits 0.
func mustUmbra(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := umbraStdin(t, "", args...)
	if code != 0 {
		t.Fatalf("umbra %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// failUmbra runs the CLI, wants exit 1 and an error containing want.
func failUmbra(t *testing.T, want string, args ...string) string {
	t.Helper()
	code, out, errOut := umbraStdin(t, "", args...)
	if code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("umbra %s: exit %d, want 1 with %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return errOut
}

// secretFile writes one line to a new file of a fresh directory.
func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readPhrase reads a --phrase-out file.
func readPhrase(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	phrase := strings.TrimSpace(string(b))
	if err := vault.CheckPhrase(phrase); err != nil {
		t.Fatalf("phrase file: %v", err)
	}
	return phrase
}

// secretForms are the encodings in which a secret might leak into a file.
func secretForms(secret []byte) [][]byte {
	return [][]byte{
		secret,
		[]byte(hex.EncodeToString(secret)),
		[]byte(base64.StdEncoding.EncodeToString(secret)),
		[]byte(base64.RawURLEncoding.EncodeToString(secret)),
	}
}

// assertNoSecrets fails if any file under root but those named skip holds
// any secret in any of its usual encodings.
func assertNoSecrets(t *testing.T, root string, skip map[string]bool, secrets map[string][]byte) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || skip[d.Name()] {
			return err // sockets (the bridge's status socket) hold nothing
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, s := range secrets {
			for _, form := range secretForms(s) {
				if bytes.Contains(data, form) {
					t.Errorf("%s holds the %s", path, name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no file scanned under %s", root)
	}
}

// keySecrets are the secrets of a vault, by name.
func keySecrets(t *testing.T, dir, password string) map[string][]byte {
	t.Helper()
	k, err := vault.Open(filepath.Join(dir, vaultFile), []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"password":        []byte(password),
		"signing seed":    k.Signing.Seed(),
		"device seed":     k.Device.Seed(),
		"encryption seed": k.Encryption,
		"storage key":     k.Storage,
	}
}

// console drives a verb interactively: its stdin is a pipe the test
// writes answers to, its stdout and stderr one pipe the test reads.
type console struct {
	t      *testing.T
	in     *io.PipeWriter
	chunks chan string
	done   chan int
	out    string
	pos    int
}

func startConsole(t *testing.T, args ...string) *console {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &console{t: t, in: inW, chunks: make(chan string, 16), done: make(chan int, 1)}
	go func() {
		code := run(args, inR, outW, outW)
		outW.Close()
		c.done <- code
	}()
	go func() {
		defer close(c.chunks)
		buf := make([]byte, 4096)
		for {
			n, err := outR.Read(buf)
			if n > 0 {
				c.chunks <- string(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

// expect reads output until re matches after what earlier calls consumed.
func (c *console) expect(re *regexp.Regexp) []string {
	c.t.Helper()
	for {
		if loc := re.FindStringSubmatchIndex(c.out[c.pos:]); loc != nil {
			m := re.FindStringSubmatch(c.out[c.pos:])
			c.pos += loc[1]
			return m
		}
		chunk, ok := <-c.chunks
		if !ok {
			c.t.Fatalf("output ended before %v:\n%s", re, c.out)
		}
		c.out += chunk
	}
}

// answer types a line.
func (c *console) answer(line string) {
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

// wait returns the exit code and the whole output.
func (c *console) wait() (int, string) {
	c.in.Close()
	for chunk := range c.chunks {
		c.out += chunk
	}
	return <-c.done, c.out
}
