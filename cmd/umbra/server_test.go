package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"umbra/dmtp"
	"umbra/dnsrec"
	"umbra/keyfile"
	"umbra/provider"
	"umbra/provider/store"
	"umbra/ratelimit"
	"umbra/signet"
)

const testDomain = "example.test"

// initProvider runs server init for testDomain into a new directory, with
// loopback listeners on ephemeral ports, and returns the directory and
// what init printed.
func initProvider(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "provider")
	args := append([]string{"server", "init", "--domain", testDomain, "--dir", dir, "--hostname", "mail." + testDomain,
		"--dmtp-listen", "127.0.0.1:0", "--dmtp-public", "mail." + testDomain + ":2626", "--metrics", "127.0.0.1:0", "--dmap-listen", "127.0.0.1:0", "--mx-listen", "127.0.0.1:0"}, extra...)
	code, out, errOut := umbra(t, args...)
	if code != 0 {
		t.Fatalf("server init: exit %d: %s", code, errOut)
	}
	return dir, out
}

// printedRecord finds the _dime zone line for domain in out and parses it
// as clients will.
func printedRecord(t *testing.T, out, domain string) *dnsrec.Record {
	t.Helper()
	i := strings.Index(out, "_dime."+domain+". IN TXT")
	if i < 0 {
		t.Fatalf("no _dime record printed:\n%s", out)
	}
	line, _, _ := strings.Cut(out[i:], "\n")
	var txt []string
	for j, q := range strings.Split(line, `"`) {
		if j%2 == 1 {
			txt = append(txt, q)
		}
	}
	rec, err := dnsrec.Parse(txt)
	if err != nil {
		t.Fatalf("printed record %q: %v", line, err)
	}
	return rec
}

func readOrg(t *testing.T, dir string) *signet.Org {
	t.Helper()
	raw, err := keyfile.ReadSignet(filepath.Join(dir, provider.SignetFile))
	if err != nil {
		t.Fatal(err)
	}
	org, err := signet.ParseOrg(raw)
	if err != nil {
		t.Fatal(err)
	}
	return org
}

func TestServerInit(t *testing.T) {
	t.Parallel()
	dir, out := initProvider(t, "--pol", "mixed", "--exp", "7")
	modes := map[string]os.FileMode{".": 0o700, provider.POKFile: 0o600, provider.SOKFile: 0o600, provider.EncFile: 0o600,
		provider.SignetFile: 0o600, provider.KeyFile: 0o600, provider.CertFile: 0o600, provider.ConfigFile: 0o600}
	for n, want := range modes {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", n, fi.Mode().Perm(), want)
		}
	}
	// The server can load what init wrote: the keys belong together.
	keys, err := provider.LoadOrg(dir)
	if err != nil {
		t.Fatal(err)
	}
	org := keys.Signet
	pin, err := certPin(filepath.Join(dir, provider.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	rec := printedRecord(t, out, testDomain)
	if rec.Fingerprint != org.Fingerprint() || !rec.POKs[0].Equal(org.POK) || !rec.SOKs[0].Equal(org.SOKs[0].Key) {
		t.Errorf("record does not name the signet: %+v", rec)
	}
	if rec.DX != "mail.example.test:2626" || rec.DMAP != "https://mail.example.test/dmap/v1/" ||
		rec.Policy != dnsrec.PolicyMixed || rec.ExpDays != 7 || !bytes.Equal(rec.TLSPin, pin) || !bytes.Equal(org.TLSPin, pin) {
		t.Errorf("record fields: %+v (certificate pin %x)", rec, pin)
	}
	for _, want := range []string{"mail.example.test. IN A ", "mail.example.test. IN AAAA ", "example.test. IN MX 10 mail.example.test.",
		org.Fingerprint().Human(), "umbra server run --dir " + dir, "Move " + filepath.Join(dir, provider.POKFile) + " offline"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The DKIM records publish the keys init wrote; SPF and DMARC are
	// suggested.
	for _, want := range []string{"umbra-ed25519._domainkey.example.test. IN TXT \"v=DKIM1; k=ed25519; p=" + dkimPublic(t, dir),
		"umbra-rsa._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa; p=", "example.test. IN TXT \"v=spf1 mx a:mail.example.test -all\"",
		"_dmarc.example.test. IN TXT \"v=DMARC1; p=none;"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Every group of record lines follows its explanation.
	prev := ""
	for l := range strings.Lines(out) {
		if !strings.Contains(l, " IN ") {
			prev = l
		} else if !strings.HasPrefix(prev, ";") {
			t.Errorf("record line %q has no explanation", l)
		}
	}

	raw, err := os.ReadFile(filepath.Join(dir, provider.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := provider.ParseConfig(dir, raw)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DMTPListen != "127.0.0.1:0" || cfg.MetricsListen != "127.0.0.1:0" || cfg.TLSCert != filepath.Join(dir, provider.CertFile) {
		t.Errorf("configuration: %+v", cfg)
	}
	blk, _ := pem.Decode(mustRead(t, filepath.Join(dir, provider.CertFile)))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !slices.Contains(cert.DNSNames, "mail.example.test") {
		t.Errorf("certificate: %v, names %v", err, cert.DNSNames)
	}

	code, _, errOut := umbra(t, "server", "init", "--domain", testDomain, "--dir", dir)
	if code != 1 || !strings.Contains(errOut, "is not empty") {
		t.Fatalf("second init: exit %d: %s", code, errOut)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A given certificate is copied and pinned; a failure halfway leaves the
// directory empty.
func TestServerInitWithCert(t *testing.T) {
	t.Parallel()
	certs := t.TempDir()
	pin, err := provider.CreateCert(certs, []string{"mx.example.test"}, 30)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(certs, provider.CertFile), filepath.Join(certs, provider.KeyFile)
	dir, out := initProvider(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if rec := printedRecord(t, out, testDomain); !bytes.Equal(rec.TLSPin, pin) {
		t.Errorf("pin %x, want %x", rec.TLSPin, pin)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(dir, provider.CertFile)), mustRead(t, certFile)) ||
		!bytes.Equal(mustRead(t, filepath.Join(dir, provider.KeyFile)), mustRead(t, keyFile)) {
		t.Error("certificate or key not copied")
	}

	other := t.TempDir()
	if _, err := provider.CreateCert(other, []string{"other.example.test"}, 30); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	code, _, errOut := umbra(t, "server", "init", "--domain", testDomain, "--dir", bad,
		"--tls-cert", certFile, "--tls-key", filepath.Join(other, provider.KeyFile))
	if code != 1 || !strings.Contains(errOut, "private key does not match public key") {
		t.Fatalf("mismatched key: exit %d: %s", code, errOut)
	}
	// The DMAP URL is checked only when the record is built, after the
	// certificate was written: init must remove what it wrote.
	code, _, errOut = umbra(t, "server", "init", "--domain", testDomain, "--dir", bad, "--dmap", "http://mail.example.test/")
	if code != 1 || !strings.Contains(errOut, "https") {
		t.Fatalf("bad --dmap: exit %d: %s", code, errOut)
	}
	if ents, err := os.ReadDir(bad); err != nil || len(ents) != 0 {
		t.Fatalf("failed init left %v (%v)", ents, err)
	}
}

func TestServerUsage(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "p")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"server", "init", "--domain", testDomain}, "--domain and --dir are required"},
		{[]string{"server", "init", "--dir", dir}, "--domain and --dir are required"},
		{[]string{"server", "init", "--domain", "bad_domain", "--dir", dir}, "bad_domain"},
		{[]string{"server", "init", "--domain", testDomain, "--dir", dir, "--hostname", "a b"}, "--hostname"},
		{[]string{"server", "init", "--domain", testDomain, "--dir", dir, "--dmtp-listen", "127.0.0.1:0"}, "give --dmtp-public"},
		{[]string{"server", "init", "--domain", testDomain, "--dir", dir, "--dmtp-listen", "nonsense"}, "dmtp_listen"},
		{[]string{"server", "init", "--domain", testDomain, "--dir", dir, "--metrics", "127.0.0.1:9426\nnode = x"}, "control characters"},
		{[]string{"server", "init", "--domain", testDomain, "--dir", dir, "--tls-cert", "c.pem"}, "together"},
		{[]string{"server", "init", "--domain", testDomain, "--dir", dir, "--days", "0"}, "--days"},
		{[]string{"server", "init", "--domain", testDomain, "--dir", dir, "--pol", "lax"}, "lax"},
		{[]string{"server", "run"}, "--dir is required"},
		{[]string{"server", "run", "--dir", dir, "--log-level", "loud"}, "--log-level"},
		{[]string{"server", "run", "--dir", dir, "--dns", "127.0.0.1:99999"}, "--dns"},
		{[]string{"server", "user", "add", "--dir", dir}, "wrong number of arguments"},
		{[]string{"server", "user", "add", "a@example.test", "b@example.test", "--dir", dir}, "wrong number of arguments"},
		{[]string{"server", "user", "add", "no-at-sign", "--dir", dir}, "no '@'"},
		{[]string{"server", "user", "list", "extra", "--dir", dir}, "wrong number of arguments"},
		{[]string{"server", "queue", "list"}, "--dir is required"},
	} {
		code, _, errOut := umbra(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, want 2 and %q in:\n%s", c.args, code, c.want, errOut)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a usage error created %s", dir)
	}
	// A directory that is not a provider's.
	for _, args := range [][]string{{"server", "run"}, {"server", "user", "list"}, {"server", "queue", "drop", "1"}} {
		code, _, errOut := umbra(t, append(args, "--dir", t.TempDir())...)
		if code != 1 || !strings.Contains(errOut, "is not a provider directory") {
			t.Errorf("%q: exit %d: %s", args, code, errOut)
		}
	}
}

var inviteCode = regexp.MustCompile(`[A-Z2-7]{4}(-[A-Z2-7]{1,4})+`)

// addUser invites address through the CLI and returns the printed code.
func addUser(t *testing.T, dir, address string) string {
	t.Helper()
	code, out, errOut := umbra(t, "server", "user", "add", address, "--dir", dir)
	if code != 0 {
		t.Fatalf("user add %s: exit %d: %s", address, code, errOut)
	}
	inv := inviteCode.FindString(out)
	if inv == "" || !strings.Contains(out, "shown only this once") {
		t.Fatalf("user add printed no invitation code:\n%s", out)
	}
	return inv
}

// redeem does what the user's device will do over DMAP: it sends a first
// signet request with the invitation code, and gets the signet certified.
func redeem(t *testing.T, dir, address, inv string) *signet.User {
	t.Helper()
	p, err := provider.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	org := p.Org().Signet
	_, sk, _ := ed25519.GenerateKey(nil)
	_, rk, _ := ed25519.GenerateKey(nil)
	ek, err := signet.KEM().GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	req, err := signet.NewRequest(signet.UserFields{SigningKey: sk.Public().(ed25519.PublicKey), Enc: ek.PublicKey(),
		RecoveryKey: rk.Public().(ed25519.PublicKey), Address: address, NotBefore: org.NotBefore, NotAfter: org.NotAfter}, sk, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.Issue(t.Context(), address, inv, store.ModeParanoid, req)
	if err != nil {
		t.Fatalf("redeem the printed invitation code: %v", err)
	}
	return u
}

func TestServerUsers(t *testing.T) {
	t.Parallel()
	dir, _ := initProvider(t)
	code, out, _ := umbra(t, "server", "user", "list", "--dir", dir)
	if code != 0 || !strings.Contains(out, "no accounts") {
		t.Fatalf("empty list: exit %d: %s", code, out)
	}
	// The domain is case-insensitive; the printed code works exactly once.
	inv := addUser(t, dir, "alice@Example.TEST")
	redeem(t, dir, "alice@example.test", inv)
	// Flags may also come first.
	if code, _, errOut := umbra(t, "server", "user", "add", "--dir", dir, "bob@example.test"); code != 0 {
		t.Fatalf("user add with --dir first: exit %d: %s", code, errOut)
	}

	for _, c := range []struct{ args, want string }{
		{"user add alice@example.test", "alice@example.test already has an account"},
		{"user add mallory@other.test", "not an address of example.test"},
		{"user disable nobody@example.test", "no account nobody@example.test"},
	} {
		code, _, errOut := umbra(t, append(append([]string{"server"}, strings.Fields(c.args)...), "--dir", dir)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, want 1 and %q: %s", c.args, code, c.want, errOut)
		}
	}

	code, out, _ = umbra(t, "server", "user", "list", "--dir", dir)
	if code != 0 || !regexp.MustCompile(`(?m)^ADDRESS +STATE +MODE +CREATED\nalice@example\.test +active +paranoid +\d{4}-\d\d-\d\d \d\d:\d\d UTC\nbob@example\.test +invited +- +`).MatchString(out) {
		t.Fatalf("list: exit %d:\n%s", code, out)
	}
	code, out, _ = umbra(t, "server", "user", "disable", "alice@example.test", "--dir", dir)
	if code != 0 || !strings.Contains(out, "disabled alice@example.test (was active)") {
		t.Fatalf("disable: exit %d: %s", code, out)
	}
	code, out, _ = umbra(t, "server", "user", "disable", "alice@example.test", "--dir", dir)
	if code != 0 || !strings.Contains(out, "already disabled") {
		t.Fatalf("disable twice: exit %d: %s", code, out)
	}
	if _, out, _ = umbra(t, "server", "user", "list", "--dir", dir); !regexp.MustCompile(`alice@example\.test +disabled +paranoid`).MatchString(out) {
		t.Fatalf("list after disable:\n%s", out)
	}
}

func TestServerQueue(t *testing.T) {
	t.Parallel()
	dir, _ := initProvider(t)
	code, out, _ := umbra(t, "server", "queue", "list", "--dir", dir)
	if code != 0 || !strings.Contains(out, "the outbound queue is empty") {
		t.Fatalf("empty queue: exit %d: %s", code, out)
	}

	// Three entries: 1 waits after a failure, 2 is being delivered, 3 is due.
	p, err := provider.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, ctx, now := p.Store().Queue(), t.Context(), time.Now()
	enqueue := func(name string) store.Outbound {
		msg := bytes.Repeat([]byte(name), 1000)
		m := store.Outbound{MessageID: sha256.Sum256([]byte(name)), Domain: "remote.test", Message: bytes.NewReader(msg), Size: int64(len(msg)), BounceTo: []byte("to " + name)}
		if _, _, err := q.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	claim := func(owner string) {
		if got, err := q.Claim(ctx, time.Now(), 1, time.Hour, owner); err != nil || len(got) != 1 {
			t.Fatalf("claim: %v, %d entries", err, len(got))
		}
	}
	enqueue("first")
	claim("node1/0")
	if err := q.Reschedule(ctx, 1, "node1/0", now.Add(time.Hour), "dial remote.test: refused\x1b[2J"); err != nil {
		t.Fatal(err)
	}
	enqueue("second")
	claim("node1/1")
	enqueue("third")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	if code, out, _ = umbra(t, "server", "queue", "list", "--dir", dir); code != 0 {
		t.Fatalf("queue list: exit %d", code)
	}
	for _, re := range []string{
		`(?m)^ID +DOMAIN +SIZE +AGE +ATTEMPTS +NEXT ATTEMPT +LAST ERROR$`,
		`(?m)^1 +remote\.test +4\.9 KiB +\d+s +1 +in \d+m\d\ds +dial remote\.test: refused\?\[2J$`,
		`(?m)^2 +remote\.test +5\.9 KiB +\d+s +1 +being delivered by node1/1 +-$`,
		`(?m)^3 +remote\.test +4\.9 KiB +\d+s +0 +due now +-$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("queue list lacks %s:\n%s", re, out)
		}
	}

	for _, c := range []struct {
		args string
		code int
		want string
	}{
		{"retry 1", 0, "entry 1 is due now"},
		{"retry 2", 0, "entry 2 is due now"},
		{"retry 3", 0, "entry 3 is due now"},
		{"drop 3", 0, "dropped entry 3 (4.9 KiB to remote.test"},
		{"drop 3", 1, "no queue entry 3"},
		{"retry 3", 1, "no queue entry 3"},
		{"retry abc", 2, `"abc" is not a queue entry id`},
		{"drop 0", 2, `"0" is not a queue entry id`},
	} {
		code, out, errOut := umbra(t, append(append([]string{"server", "queue"}, strings.Fields(c.args)...), "--dir", dir)...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("queue %s: exit %d, want %d and %q:\n%s%s", c.args, code, c.code, c.want, out, errOut)
		}
	}

	// What the store holds now: 1 (waiting) and 2 (claimed) both due now,
	// unclaimed, with their attempts and last errors kept.
	p, err = provider.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	list, err := p.Store().Queue().List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != 1 || list[1].ID != 2 {
		t.Fatalf("queue after the operations: %v, %+v", err, list)
	}
	after := time.Now()
	for _, e := range list {
		if e.LeaseOwner != "" || e.NextAttempt.After(after) || e.Attempts != 1 {
			t.Errorf("retried entry: %+v", e)
		}
	}
	if !strings.Contains(list[0].LastError, "refused") {
		t.Errorf("retry lost the last error: %+v", list[0])
	}
}

// childEnv, when set, makes TestServerRunProcess the child: it runs the
// CLI with the arguments in the variable (newline-separated) and exits
// with its status.
const childEnv = "UMBRA_CLI_CHILD_ARGS"

// TestServerRunProcess runs `umbra server run` as a separate process and,
// while it serves, talks DMTP to it, scrapes its metrics and manages its
// accounts from this process, through the same SQLite database; SIGTERM
// then stops it with status 0.
func TestServerRunProcess(t *testing.T) {
	if args := os.Getenv(childEnv); args != "" {
		os.Exit(run(strings.Split(args, "\n"), os.Stdin, os.Stdout, os.Stderr))
	}
	t.Parallel()
	dir, initOut := initProvider(t)
	rec := printedRecord(t, initOut, testDomain)

	// The deadline only stops a hung child; nothing is timed.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServerRunProcess$", "-test.count=1")
	child.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{"server", "run", "--dir", dir, "--dns", "127.0.0.1:1", "--log-level", "debug"}, "\n"))
	var stderr bytes.Buffer
	child.Stderr = &stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for len(addrs) < 3 && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && (f[0] == "dmtp" || f[0] == "mx" || f[0] == "metrics") {
			addrs[f[0]] = f[1]
		}
	}
	if len(addrs) < 3 {
		child.Wait()
		t.Fatalf("server run printed no addresses: %v\nstderr:\n%s", sc.Err(), stderr.String())
	}
	drained := make(chan struct{})
	go func() { io.Copy(io.Discard, stdout); close(drained) }()

	// Accounts are managed from this process while the child serves; the
	// child then serves the signet this process certified.
	inv := addUser(t, dir, "carol@example.test")
	u := redeem(t, dir, "carol@example.test", inv)
	if code, out, errOut := umbra(t, "server", "user", "add", "dave@example.test", "--dir", dir); code != 0 {
		t.Fatalf("second user add: %s%s", out, errOut)
	}
	if code, out, errOut := umbra(t, "server", "user", "disable", "dave@example.test", "--dir", dir); code != 0 {
		t.Fatalf("user disable: %s%s", out, errOut)
	}
	code, out, _ := umbra(t, "server", "user", "list", "--dir", dir)
	if code != 0 || !regexp.MustCompile(`carol@example\.test +active +paranoid`).MatchString(out) || !regexp.MustCompile(`dave@example\.test +disabled`).MatchString(out) {
		t.Fatalf("user list: exit %d:\n%s", code, out)
	}
	if code, out, _ := umbra(t, "server", "queue", "list", "--dir", dir); code != 0 || !strings.Contains(out, "empty") {
		t.Fatalf("queue list: exit %d: %s", code, out)
	}

	// DMTP over TLS 1.3, authenticated by the pin init published.
	cl, err := dmtp.Dial(ctx, addrs["dmtp"], dmtp.PinnedConfig(rec.TLSPin, "mail."+testDomain))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	orgRaw, err := cl.Signet(testDomain, signet.Fingerprint{})
	if err != nil || !bytes.Equal(orgRaw, readOrg(t, dir).Bytes()) {
		t.Errorf("organisation signet over DMTP: %v", err)
	}
	userRaw, err := cl.Signet("carol@example.test", signet.Fingerprint{})
	if err != nil || !bytes.Equal(userRaw, u.Bytes()) {
		t.Errorf("carol's signet over DMTP: %v", err)
	}
	if err := cl.Quit(); err != nil {
		t.Error(err)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addrs["metrics"], nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !regexp.MustCompile(`(?m)^umbra_dmtp_sessions_total 1$`).Match(body) {
		t.Errorf("metrics (%v):\n%s", err, body)
	}

	// A stranger's garbage, 300 times: each is a client fault logged (at
	// DEBUG), and the log keeps a few lines of it, then one every 3 s
	// saying how many it left out (ratelimit.LogHandler).
	garbage := func() {
		c, err := net.Dial("tcp", addrs["dmtp"])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		io.Copy(io.Discard, c)
		c.Close()
	}
	for range 300 {
		garbage()
	}
	time.Sleep(ratelimit.DefaultLogLimit.Every)
	garbage()

	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-drained // Wait closes the pipe: read it to the end first
	if err := child.Wait(); err != nil {
		t.Fatalf("server run after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}
	faults := regexp.MustCompile(`(?m)^.*msg="dmtp: TLS handshake failed".*$`).FindAllString(stderr.String(), -1)
	if len(faults) < 2 || len(faults) > ratelimit.DefaultLogLimit.Burst+2 || !strings.Contains(faults[len(faults)-1], "suppressed=") {
		t.Errorf("301 client faults logged in %d lines, want the burst and one with the count suppressed:\n%s", len(faults), strings.Join(faults, "\n"))
	}
	for _, want := range []string{`level=INFO msg="provider started" domain=example.test`, `msg="shutting down`, `msg=stopped`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
}

// dkimPublic is the base64 Ed25519 public key of the DKIM key in dir.
func dkimPublic(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, provider.DKIMEd25519File))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM in the DKIM key file")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k.(ed25519.PrivateKey).Public().(ed25519.PublicKey))
}
