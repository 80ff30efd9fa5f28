package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"umbra/bridge"
	"umbra/keyfile"
	"umbra/signet"
	"umbra/testnet"
	"umbra/tlscert"
)

// `umbra bench bridge`: the bridge's initial sync, IMAP fetches and
// end-to-end latency, for docs/benchmarks.md.

func init() {
	register(verb{words: "bench bridge", synopsis: "[--dir DIR] [--n N] [--latency N]", run: runBenchBridge,
		help: `measure the bridge: initial sync, IMAP fetches, send-to-IDLE latency

Starts a.test and b.test in this process on loopback with alice@a.test and
bob@b.test (made with 'umbra account create'), in a scratch directory under
--dir that is removed afterwards. Delivers N messages to bob (35% 4 KB,
62% 50 KB, 3% 500 KB: up to 3 KB of text, the rest a base64 attachment;
sealed by another b.test account). Then:

  1. baseline: the same sealed bytes downloaded over plain HTTPS (HTTP/2,
     TLS 1.3, 8 at a time, files served from disk) in this run;
  2. initial sync: a fresh 'umbra bridge' process for bob, timed from its
     start until all N messages are in its store (then until the storage
     forms it writes back are pushed too);
  3. UID FETCH 1:* (FLAGS ENVELOPE), and UID FETCH 1:* BODY.PEEK[], over
     IMAP from that bridge;
  4. latency: --latency messages sent one at a time through alice's bridge
     over SMTP, each timed from the SMTP 250 until bob's IMAP IDLE
     reports it (through a.test's queue, DMTP to b.test, bob's long-poll);
  5. the CPU time bob's bridge and this process (the providers) used
     during the initial sync, against what the CPUs could give: whether
     the sync waits for the CPU or for something else;
  6. the peak resident memory (VmHWM) of bob's bridge process.

Progress goes to stderr.`})
}

func runBenchBridge(c *cmd) error {
	dir := c.flags.String("dir", os.TempDir(), "directory on the disk to measure (a scratch directory is made and removed inside it)")
	n := c.flags.Int("n", 10000, "messages in bob's mailbox")
	latN := c.flags.Int("latency", 100, "messages timed from SMTP 250 to IMAP IDLE")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	if *n < 1 || *latN < 1 {
		return usageErrorf("--n and --latency must be at least 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now().UTC()
	scratch, err := os.MkdirTemp(*dir, "umbra-bench-bridge-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	bb := &benchBridge{out: c.stderr, scratch: scratch}
	defer bb.close()
	if err := bb.setUp(ctx, *n); err != nil {
		return err
	}
	res, err := bb.measure(ctx, *n, *latN)
	if err != nil {
		return err
	}
	printMachine(c.stdout, "bridge", *dir, started)
	res.print(c.stdout, *n)
	return nil
}

// benchBridge is the bench's network and processes.
type benchBridge struct {
	out      io.Writer
	scratch  string
	net      *testnet.Network
	dirs     map[string]string // account directories by address
	pwFiles  map[string]string
	children []*exec.Cmd
}

func (bb *benchBridge) say(format string, args ...any) {
	fmt.Fprintf(bb.out, "bench bridge: "+format+"\n", args...)
}

func (bb *benchBridge) close() {
	for _, c := range bb.children {
		c.Process.Signal(syscall.SIGTERM)
		c.Wait()
	}
	if bb.net != nil {
		bb.net.Close()
	}
}

func (bb *benchBridge) setUp(ctx context.Context, n int) error {
	var err error
	if bb.net, err = testnet.New(filepath.Join(bb.scratch, "providers")); err != nil {
		return err
	}
	bb.dirs, bb.pwFiles = map[string]string{}, map[string]string{}
	for _, address := range demoUsers {
		node, err := bb.net.AddProvider(signet.DomainOf(address))
		if err != nil {
			return err
		}
		if err := node.Start(nil); err != nil {
			return err
		}
		d := filepath.Join(bb.scratch, "accounts", address)
		if _, err := createDemoAccount(ctx, node, bb.net.DNS.Addr, address, d); err != nil {
			return err
		}
		bb.dirs[address], bb.pwFiles[address] = d, filepath.Join(filepath.Dir(d), address+".password")
	}
	bob := "bob@b.test"
	raw, err := keyfile.ReadSignet(filepath.Join(bb.dirs[bob], signetFile))
	if err != nil {
		return err
	}
	u, err := signet.ParseUser(raw)
	if err != nil {
		return err
	}
	node := bb.net.Node("b.test")
	sender, err := node.NewUser(ctx, "sender@b.test")
	if err != nil {
		return err
	}
	bb.say("delivering %d messages to %s", n, bob)
	return node.Deliver(ctx, sender, &testnet.User{Address: bob, Signet: u}, node, n, func(i int) []byte { return testnet.MailMIME(i, testnet.MixSize(i)) })
}

// bridgeProc is an `umbra bridge` child process with its settings.
type bridgeProc struct {
	cmd                  *exec.Cmd
	dir                  string
	imap, smtp, password string
	started              time.Time
}

var benchSettingRe = regexp.MustCompile(`^(IMAP|SMTP|password)\s+(\S+)`)

func (bb *benchBridge) startBridge(address string) (*bridgeProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &bridgeProc{dir: bb.dirs[address]}
	p.cmd = exec.Command(exe, "bridge", "--dir", p.dir, "--password-file", bb.pwFiles[address], "--dns", bb.net.DNS.Addr,
		"--imap", "127.0.0.1:0", "--smtp", "127.0.0.1:0", "--log-level", "warn")
	p.cmd.Stderr = bb.out
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	bb.children = append(bb.children, p.cmd)
	sc := bufio.NewScanner(out)
	for (p.imap == "" || p.smtp == "" || p.password == "") && sc.Scan() {
		if m := benchSettingRe.FindStringSubmatch(sc.Text()); m != nil {
			switch m[1] {
			case "IMAP":
				p.imap = m[2]
			case "SMTP":
				p.smtp = m[2]
			default:
				p.password = m[2]
			}
		}
	}
	if p.password == "" {
		return nil, fmt.Errorf("the bridge of %s printed no settings", address)
	}
	go io.Copy(io.Discard, out)
	return p, nil
}

// peakRSS is the VmHWM of process pid from /proc.
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// cpuTime is the CPU time (user and system) the process pid has used.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return statCPU(data)
}

// statCPU reads utime and stime (fields 14 and 15) from a /proc/PID/stat
// line, in clock ticks of 1/100 s (USER_HZ is 100 on Linux whatever the
// kernel's own tick; proc(5)).
func statCPU(data []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses of its own: the fields go on after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:])) // field 3 on
	if i < 0 || len(f) < 13 {
		return 0, errors.New("malformed /proc stat line")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("malformed /proc stat line: CPU time %q", s)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// benchBridgeResult is what the bench measured.
type benchBridgeResult struct {
	bytes                    int64 // sealed bytes of the N messages
	plain, dmapDL, sync, all time.Duration
	// CPU time during the initial sync: bob's bridge, and this process
	// (the providers, the DNS server, the bench's polling).
	syncCPUBridge, syncCPUSelf time.Duration
	envelope, bodies           time.Duration
	bodyBytes                  int64
	latency                    []time.Duration
	peak                       int64
}

func (bb *benchBridge) measure(ctx context.Context, n, latN int) (*benchBridgeResult, error) {
	res := &benchBridgeResult{}
	bob := "bob@b.test"
	if err := bb.baseline(ctx, bob, res); err != nil {
		return nil, err
	}
	bb.say("initial sync into a fresh bridge")
	self0, err := cpuTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	p, err := bb.startBridge(bob)
	if err != nil {
		return nil, err
	}
	for synced := false; ; time.Sleep(20 * time.Millisecond) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		st, err := bridge.ReadStatus(p.dir)
		if err != nil {
			continue
		}
		if !synced && st.Received >= int64(n) {
			res.sync, synced = time.Since(p.started), true
			if res.syncCPUBridge, err = cpuTime(p.cmd.Process.Pid); err != nil {
				return nil, err
			}
			self1, err := cpuTime(os.Getpid())
			if err != nil {
				return nil, err
			}
			res.syncCPUSelf = self1 - self0
			bb.say("synced %d messages in %v; waiting for the storage forms to be pushed", n, res.sync.Round(time.Millisecond))
		}
		if synced && st.Pending == 0 && !st.CatchingUp {
			res.all = time.Since(p.started)
			break
		}
	}
	if err := bb.fetches(p, res); err != nil {
		return nil, err
	}
	alice, err := bb.startBridge("alice@a.test")
	if err != nil {
		return nil, err
	}
	if res.latency, err = bb.latency(ctx, alice, p, latN); err != nil {
		return nil, err
	}
	res.peak, err = peakRSS(p.cmd.Process.Pid)
	return res, err
}

// baseline reads bob's N sealed messages over DMAP and writes them to
// files, then times their download over DMAP (8 at a time, nothing kept)
// and over plain HTTPS from a file server.
func (bb *benchBridge) baseline(ctx context.Context, address string, res *benchBridgeResult) error {
	pw, err := readSecretFile(bb.pwFiles[address])
	if err != nil {
		return err
	}
	info, keys, err := openAccount(bb.dirs[address], []byte(pw))
	if err != nil {
		return err
	}
	s := &session{dir: bb.dirs[address], info: info, keys: keys}
	if err := s.connect(ctx); err != nil {
		return err
	}
	defer s.close()
	plainDir := filepath.Join(bb.scratch, "plain")
	if err := os.MkdirAll(plainDir, 0o700); err != nil {
		return err
	}
	bb.say("baseline: reading the sealed messages over DMAP")
	var ids []string
	for since := int64(0); ; {
		page, err := s.cl.Changes(ctx, since, 0)
		if err != nil {
			return err
		}
		for _, ch := range page.Changes {
			ids = append(ids, ch.ID)
		}
		since = page.Next
		if !page.More {
			break
		}
	}
	// The files for the file server first; then the timed download, which
	// keeps nothing (writing files is no part of a download's cost).
	var total atomic.Int64
	err = testnet.Parallel(ctx, 8, len(ids), func(i int) error {
		doc, err := s.cl.Get(ctx, ids[i])
		if err != nil {
			return err
		}
		total.Add(int64(len(doc.Data)))
		return os.WriteFile(filepath.Join(plainDir, strconv.Itoa(i)), doc.Data, 0o600)
	})
	if err != nil {
		return err
	}
	res.bytes = total.Load()
	bb.say("baseline: the same %d bytes over DMAP, timed", res.bytes)
	t0 := time.Now()
	err = testnet.Parallel(ctx, 8, len(ids), func(i int) error {
		_, err := s.cl.Get(ctx, ids[i])
		return err
	})
	if err != nil {
		return err
	}
	res.dmapDL = time.Since(t0)

	pair, err := tlscert.New([]string{"127.0.0.1"}, 1)
	if err != nil {
		return err
	}
	cert, err := pair.Certificate()
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS13})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(plainDir))}
	go srv.Serve(ln)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(pair.Leaf)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"},
		ForceAttemptHTTP2: true,
	}}
	base := "https://" + ln.Addr().String() + "/"
	bb.say("baseline: the same %d bytes over plain HTTPS", res.bytes)
	t0 = time.Now()
	err = testnet.Parallel(ctx, 8, len(ids), func(i int) error {
		resp, err := client.Get(base + strconv.Itoa(i))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	})
	res.plain = time.Since(t0)
	return err
}

// fetches times UID FETCH 1:* (FLAGS ENVELOPE) and UID FETCH 1:* BODY.PEEK[].
func (bb *benchBridge) fetches(p *bridgeProc, res *benchBridgeResult) error {
	c, err := imapclient.DialInsecure(p.imap, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login("bob@b.test", p.password).Wait(); err != nil {
		return err
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return err
	}
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	bb.say("UID FETCH 1:* (FLAGS ENVELOPE)")
	t0 := time.Now()
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
	if err != nil {
		return err
	}
	res.envelope = time.Since(t0)
	bb.say("  %d messages in %v; UID FETCH 1:* BODY.PEEK[]", len(msgs), res.envelope.Round(time.Millisecond))
	t0 = time.Now()
	fc := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for {
		m := fc.Next()
		if m == nil {
			break
		}
		for {
			item := m.Next()
			if item == nil {
				break
			}
			if b, ok := item.(imapclient.FetchItemDataBodySection); ok {
				nb, err := io.Copy(io.Discard, b.Literal)
				if err != nil {
					return err
				}
				res.bodyBytes += nb
			}
		}
	}
	if err := fc.Close(); err != nil {
		return err
	}
	res.bodies = time.Since(t0)
	return nil
}

// latency sends latN messages through alice's bridge, one at a time, and
// times each from the SMTP 250 until bob's IDLE session sees it.
func (bb *benchBridge) latency(ctx context.Context, alice, bob *bridgeProc, latN int) ([]time.Duration, error) {
	arrived := make(chan time.Time, 16)
	c, err := imapclient.DialInsecure(bob.imap, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					arrived <- time.Now()
				}
			},
		},
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Login("bob@b.test", bob.password).Wait(); err != nil {
		return nil, err
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return nil, err
	}
	idle, err := c.Idle()
	if err != nil {
		return nil, err
	}
	defer idle.Close()
	sc, err := dialSubmission(alice.smtp, alice.dir, "alice@a.test", alice.password)
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	bb.say("latency: %d messages alice → bob, SMTP 250 → IMAP IDLE", latN)
	var lat []time.Duration
	for i := range latN {
		msg := fmt.Sprintf("From: alice@a.test\r\nTo: bob@b.test\r\nSubject: latency %d\r\n\r\nping %d\r\n", i, i)
		if err := sendOne(sc, "alice@a.test", "bob@b.test", []byte(msg)); err != nil {
			return nil, err
		}
		t0 := time.Now()
		select {
		case t1 := <-arrived:
			lat = append(lat, t1.Sub(t0))
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("message %d: no IDLE notification within a minute", i)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return lat, nil
}

// dialSubmission logs in to a bridge's SMTP submission after STARTTLS,
// trusting the certificate the bridge of account directory dir exports.
func dialSubmission(addr, dir, user, password string) (*smtp.Client, error) {
	pem, err := os.ReadFile(filepath.Join(dir, bridge.CertFile))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	sc, err := smtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := sc.StartTLS(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}); err != nil {
		sc.Close()
		return nil, err
	}
	if err := sc.Auth(smtp.PlainAuth("", user, password, "127.0.0.1")); err != nil {
		sc.Close()
		return nil, err
	}
	return sc, nil
}

// sendOne sends one message on an open SMTP session and returns after
// the 250 to its data.
func sendOne(sc *smtp.Client, from, to string, msg []byte) error {
	if err := sc.Mail(from); err != nil {
		return err
	}
	if err := sc.Rcpt(to); err != nil {
		return err
	}
	w, err := sc.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}

func (r *benchBridgeResult) print(w io.Writer, n int) {
	mb := float64(r.bytes) / 1e6
	fmt.Fprintf(w, "messages  %d in bob's mailbox (35%% 4 KB, 62%% 50 KB, 3%% 500 KB bodies), %.1f MB sealed\n\n", n, mb)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run\ttime\tmsgs/s\tMB/s\tvs plain HTTPS")
	row := func(name string, d time.Duration, bytes float64) {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%.2f×\n", name, d.Round(time.Millisecond), float64(n)/d.Seconds(), bytes/d.Seconds(), d.Seconds()/r.plain.Seconds())
	}
	row("plain HTTPS download, 8 at a time (baseline)", r.plain, mb)
	row("DMAP download, 8 at a time (no opening, no storing)", r.dmapDL, mb)
	row("bridge initial sync: process start → all in the store", r.sync, mb)
	row("  … until its storage forms are pushed too", r.all, mb)
	row("IMAP UID FETCH 1:* (FLAGS ENVELOPE)", r.envelope, 0)
	row("IMAP UID FETCH 1:* BODY.PEEK[]", r.bodies, float64(r.bodyBytes)/1e6)
	tw.Flush()
	slices.Sort(r.latency)
	q := func(p float64) time.Duration { return r.latency[min(len(r.latency)-1, int(p*float64(len(r.latency))))] }
	fmt.Fprintf(w, "\nlatency alice SMTP 250 → bob IMAP IDLE EXISTS, %d messages one at a time: p50 %s, p99 %s, max %s\n",
		len(r.latency), ms(q(0.50)), ms(q(0.99)), ms(r.latency[len(r.latency)-1]))
	avail := time.Duration(runtime.GOMAXPROCS(0)) * r.sync
	fmt.Fprintf(w, "CPU time during the initial sync: bob's bridge %s, this process (providers, DNS) %s: %.0f%% of the %s that %d CPUs give in that time\n",
		r.syncCPUBridge.Round(10*time.Millisecond), r.syncCPUSelf.Round(10*time.Millisecond),
		100*float64(r.syncCPUBridge+r.syncCPUSelf)/float64(avail), avail.Round(10*time.Millisecond), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "peak RSS of bob's bridge process (VmHWM): %.0f MiB\n", float64(r.peak)/(1<<20))
}
