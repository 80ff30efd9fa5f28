package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"umbra/bridge"
	"umbra/bridge/mailstore"
	"umbra/mboxio"
	"umbra/signet"
	"umbra/testnet"
)

func init() {
	register(verb{words: "bench import", synopsis: "[--dir DIR] [--n N]", run: runBenchImport,
		help: `measure 'umbra import': throughput and peak memory, killed and resumed

Starts a.test in this process on loopback with alice@a.test (made with
'umbra account create'), in a scratch directory under --dir that is
removed afterwards. Writes an mbox of N messages (35% 4 KB, 62% 50 KB,
3% 500 KB), then runs 'umbra import mbox' in a child process, SIGKILLs
it once it reports half the messages, and runs it again to the end.
Checks that INBOX then holds exactly the N messages, byte for byte (by
SHA-256), and prints msgs/s and MB/s over both runs and the peak
resident memory (VmHWM) of each child.

Progress goes to stderr.`})
}

// umbraCommand returns a command running this program with args. Tests,
// whose executable is the test binary, replace it.
var umbraCommand = func(args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return exec.Command(exe, args...), nil
}

func runBenchImport(c *cmd) error {
	dir := c.flags.String("dir", os.TempDir(), "directory on the disk to measure (a scratch directory is made and removed inside it)")
	n := c.flags.Int("n", 100000, "messages to import")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	if *n < 2 {
		return usageErrorf("--n must be at least 2")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now().UTC()
	scratch, err := os.MkdirTemp(*dir, "umbra-bench-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	res, err := benchImport(ctx, c.stderr, scratch, *n)
	if err != nil {
		return err
	}
	printMachine(c.stdout, "import", *dir, started)
	res.print(c.stdout)
	return nil
}

// importRun is one run of the `umbra import` child.
type importRun struct {
	wall    time.Duration
	peakRSS int64
	killed  bool
	stdout  string
}

// benchImportResult is what benchImport measured.
type benchImportResult struct {
	n          int
	bytes      int64 // of the messages
	mboxBytes  int64
	runs       []importRun
	storeBytes int64
}

func (r *benchImportResult) print(w io.Writer) {
	var wall time.Duration
	for _, run := range r.runs {
		wall += run.wall
	}
	fmt.Fprintf(w, "import    %d messages, %.1f MB (mbox %.1f MB), in two runs: %.1f s\n", r.n, float64(r.bytes)/1e6, float64(r.mboxBytes)/1e6, wall.Seconds())
	fmt.Fprintf(w, "rate      %.0f msgs/s, %.1f MB/s (both runs, the killed one's lost batch included)\n", float64(r.n)/wall.Seconds(), float64(r.bytes)/1e6/wall.Seconds())
	for i, run := range r.runs {
		how := "to the end"
		if run.killed {
			how = "SIGKILLed at half"
		}
		fmt.Fprintf(w, "run %d     %s after %.1f s, peak RSS %.1f MiB\n", i+1, how, run.wall.Seconds(), float64(run.peakRSS)/(1<<20))
	}
	fmt.Fprintf(w, "store     %.1f MB on disk (database and WAL), %.2f of the mail's size\n", float64(r.storeBytes)/1e6, float64(r.storeBytes)/float64(r.bytes))
	fmt.Fprintf(w, "checked   INBOX holds exactly the %d messages, each byte for byte (SHA-256)\n", r.n)
}

// benchImport makes an account and an mbox of n messages in scratch, imports
// it with a kill at half and a resume, and checks the outcome.
func benchImport(ctx context.Context, log io.Writer, scratch string, n int) (*benchImportResult, error) {
	net, err := testnet.New(filepath.Join(scratch, "providers"))
	if err != nil {
		return nil, err
	}
	defer net.Close()
	address := demoUsers[0]
	node, err := net.AddProvider(signet.DomainOf(address))
	if err != nil {
		return nil, err
	}
	if err := node.Start(nil); err != nil {
		return nil, err
	}
	acct := filepath.Join(scratch, "accounts", address)
	pw, err := createDemoAccount(ctx, node, net.DNS.Addr, address, acct)
	if err != nil {
		return nil, err
	}
	pwFile := filepath.Join(filepath.Dir(acct), address+".password")

	fmt.Fprintf(log, "bench import: writing an mbox of %d messages\n", n)
	res := &benchImportResult{n: n}
	want := map[[32]byte]int{}
	mbox := filepath.Join(scratch, "corpus.mbox")
	f, err := os.Create(mbox)
	if err != nil {
		return nil, err
	}
	w := mboxio.NewMboxWriter(f)
	date := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range n {
		m := testnet.MailMIME(i, testnet.MixSize(i))
		want[mailstore.Digest(m)]++
		res.bytes += int64(len(m))
		if err := w.Write("sender@b.test", date.Add(time.Duration(i)*time.Second), m); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(mbox); err == nil {
		res.mboxBytes = fi.Size()
	}

	args := []string{"import", "mbox", mbox, "--dir", acct, "--password-file", pwFile, "--progress", "100ms"}
	for _, half := range []bool{true, false} {
		fmt.Fprintf(log, "bench import: run %d\n", len(res.runs)+1)
		run, err := runImportChild(ctx, log, args, half, n/2)
		if err != nil {
			return nil, err
		}
		res.runs = append(res.runs, run)
	}
	last := res.runs[len(res.runs)-1].stdout
	if wantLine := fmt.Sprintf("imported %d messages; skipped 0 duplicates and 0 malformed", n); !strings.Contains(last, wantLine) {
		return nil, fmt.Errorf("the resumed import said %q, want %q", strings.TrimSpace(last), wantLine)
	}

	fmt.Fprintf(log, "bench import: checking the store\n")
	_, keys, err := openAccount(acct, pw)
	if err != nil {
		return nil, err
	}
	defer keys.Zero()
	st, err := bridge.OpenStore(acct, keys)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	mb, err := st.Mailbox(ctx, mailstore.Inbox)
	if err != nil {
		return nil, err
	}
	got := 0
	err = st.EachMessage(ctx, mb.ID, func(m mailstore.Message, mime []byte) error {
		d := mailstore.Digest(mime)
		if want[d] == 0 {
			// The demo account's welcome message is not the corpus's.
			if strings.Contains(string(mime), "Subject: report ") {
				return fmt.Errorf("INBOX message %d is not one imported, or imported twice", m.UID)
			}
			return nil
		}
		want[d]--
		got++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if got != n {
		return nil, fmt.Errorf("INBOX holds %d of the %d messages", got, n)
	}
	for _, name := range []string{bridge.StoreFile, bridge.StoreFile + "-wal"} {
		if fi, err := os.Stat(filepath.Join(acct, name)); err == nil {
			res.storeBytes += fi.Size()
		}
	}
	return res, nil
}

var importCountRe = regexp.MustCompile(`^import: (\d+) messages`)

// runImportChild runs `umbra import` with args; with kill, it SIGKILLs
// the child once it reports at least killAt messages.
func runImportChild(ctx context.Context, log io.Writer, args []string, kill bool, killAt int) (importRun, error) {
	var run importRun
	cmd, err := umbraCommand(args...)
	if err != nil {
		return run, err
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return run, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return run, err
	}
	stopWatch := make(chan struct{})
	peak := make(chan int64)
	go func() { peak <- watchPeakRSS(cmd.Process.Pid, stopWatch) }()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(log, "  "+line)
		if m := importCountRe.FindStringSubmatch(line); kill && m != nil {
			if v, _ := strconv.Atoi(m[1]); v >= killAt {
				run.killed = true
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
	}
	go io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	run.wall = time.Since(start)
	close(stopWatch)
	run.peakRSS = <-peak
	run.stdout = stdout.String()
	if err != nil && !run.killed {
		return run, fmt.Errorf("umbra import: %w", err)
	}
	if kill && !run.killed {
		return run, fmt.Errorf("umbra import finished before it reported %d messages", killAt)
	}
	return run, ctx.Err()
}

// watchPeakRSS samples the VmHWM of process pid until stop is closed or
// the process is gone, and returns the last value seen.
func watchPeakRSS(pid int, stop chan struct{}) int64 {
	var peak int64
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if v, err := peakRSS(pid); err == nil {
			peak = max(peak, v)
		}
		select {
		case <-stop:
			return peak
		case <-t.C:
		}
	}
}
