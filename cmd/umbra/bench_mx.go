package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"umbra/provider"
	"umbra/testnet"
)

// `umbra bench mx`: legacy mail into Umbra's MX (checked, sealed on
// arrival, stored durably) against the same load into a real Postfix
// delivering to a Maildir, in one run on one machine.

func init() {
	register(verb{words: "bench mx", synopsis: "[--dir DIR] [--n N] [--size 4KiB|50KiB|both] [--sessions N]", run: runBenchMX,
		help: `measure legacy SMTP ingest against Postfix on the same machine

Starts b.test in this process on loopback (an embedded DNS server, the MX
listener) with the account bob@b.test, in a scratch directory under --dir
that is removed afterwards, and a private Postfix (Debian's, run as a
child with its own configuration: it needs root) that delivers
sink.test's mail to a Maildir.

For each size, Postfix's own load generator smtp-source sends N messages
over --sessions parallel sessions, each session keeping its connection,
first to Umbra's MX (SPF, DKIM and DMARC checked, the message sealed to
bob's key, stored with fsync before 250), then to Postfix. Umbra's rate
runs until the last 250; Postfix's until the last message is in the
Maildir (its 250 means queued, not delivered). The ratio is Umbra's rate
over Postfix's. CPU busy is the whole machine's, both runs sharing it
with smtp-source.

Needs postfix and smtp-source (Debian's postfix package). Progress goes
to stderr.`})
}

func runBenchMX(c *cmd) error {
	dir := c.flags.String("dir", os.TempDir(), "directory on the disk to measure (a scratch directory is made and removed inside it)")
	n := c.flags.Int("n", 2000, "messages per size and server")
	size := c.flags.String("size", "both", "message body: 4KiB, 50KiB or both")
	sessions := c.flags.Int("sessions", 16, "parallel SMTP sessions")
	profile := c.flags.String("cpuprofile", "", "write a CPU profile of this process during the Umbra runs to `FILE`")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	sizes, ok := benchSizes[*size]
	if !ok {
		return usageErrorf("--size %q: want 4KiB, 50KiB or both", *size)
	}
	if *n < 1 || *sessions < 1 {
		return usageErrorf("--n and --sessions must be at least 1")
	}
	source, err := exec.LookPath("smtp-source")
	if err != nil {
		return errors.New("bench mx needs smtp-source (Debian: apt-get install postfix)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now().UTC()

	scratch, err := os.MkdirTemp(*dir, "umbra-bench-mx-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	tn, err := testnet.New(scratch)
	if err != nil {
		return err
	}
	defer tn.Close()
	node, err := tn.AddProvider("b.test")
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pf, err := testnet.StartPostfix(map[string]string{
		"virtual_mailbox_domains": "sink.test",
		"virtual_mailbox_maps":    "static:sink/",
		// Postfix's default of 20 deliveries at once to one domain would
		// hold it back on 16 sessions.
		"default_destination_concurrency_limit": "50",
	})
	if err != nil {
		return fmt.Errorf("start the sink Postfix: %w", err)
	}
	defer pf.Stop()
	// Postfix relaying to the sink, for the outbound comparison.
	pfRelay, err := testnet.StartPostfix(map[string]string{"relayhost": "[127.0.0.1]:" + portOf(pf.SMTP)})
	if err != nil {
		return fmt.Errorf("start the relaying Postfix: %w", err)
	}
	defer pfRelay.Stop()
	sinkPort, _ := strconv.Atoi(portOf(pf.SMTP))
	if err := node.Start(func(cfg *provider.Config) {
		cfg.Logger = quiet
		cfg.RelayPort = sinkPort
		cfg.QueueWorkers = *sessions
	}); err != nil {
		return err
	}
	defer node.Stop()
	for _, u := range []string{"bob@b.test", "alice@b.test"} {
		if _, err := node.NewUser(ctx, u); err != nil {
			return err
		}
	}
	// sink.test is a legacy domain whose MX is the sink Postfix.
	for _, rr := range []string{"sink.test. 300 IN MX 10 mail.sink.test.", "mail.sink.test. 300 IN A 127.0.0.1"} {
		if err := tn.DNS.AddRecord(rr); err != nil {
			return err
		}
	}
	// The sender's domain passes SPF from loopback, so the MX does the
	// whole of its checks (SPF, DKIM look-up for none, DMARC).
	tn.DNS.AddTXT("legacy.test.", "v=spf1 ip4:127.0.0.1 -all")

	var rows []mxRow
	for _, s := range sizes {
		run := func(server, to, addr string, done func(sent int) bool) error {
			fmt.Fprintf(c.stderr, "bench mx: %d × %d KiB into %s\n", *n, s>>10, server)
			if *profile != "" && server == "Umbra MX" {
				f, err := os.Create(*profile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			busy0, total0 := cpuStat()
			self0, _ := cpuTime(os.Getpid())
			t0 := time.Now()
			cmd := exec.CommandContext(ctx, source, "-s", strconv.Itoa(*sessions), "-m", strconv.Itoa(*n),
				"-l", strconv.Itoa(s), "-d", "-M", "legacy.test", "-f", "carol@legacy.test", "-t", to, "-S", "bench", addr)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("smtp-source into %s: %v\n%s", server, err, out)
			}
			if err := waitDelivered(ctx, func() bool { return done(*n) }); err != nil {
				return fmt.Errorf("%s: %w", server, err)
			}
			el := time.Since(t0)
			busy1, total1 := cpuStat()
			self1, _ := cpuTime(os.Getpid())
			r := mxRow{size: s, server: server, n: *n, took: el}
			if total1 > total0 {
				r.busy = float64(busy1-busy0) / float64(total1-total0)
			}
			if server == "Umbra MX" {
				r.cpu = (self1 - self0) / time.Duration(*n)
			}
			rows = append(rows, r)
			return nil
		}
		head0, err := node.Provider.Store().Mailbox().Head(ctx, "bob@b.test")
		if err != nil {
			return err
		}
		err = run("Umbra MX", "bob@b.test", node.MX, func(want int) bool {
			h, err := node.Provider.Store().Mailbox().Head(ctx, "bob@b.test")
			return err == nil && h-head0 >= int64(want)
		})
		if err != nil {
			return err
		}
		before := pf.Delivered("sink/")
		if err := run("Postfix → Maildir", "carol@sink.test", pf.SMTP, func(want int) bool { return pf.Delivered("sink/")-before >= want }); err != nil {
			return err
		}
	}
	// Outbound: alice's legacy mail through b.test's queue, DKIM-signed
	// and relayed to sink.test's MX, against Postfix relaying the same
	// load to the same sink.
	for _, s := range sizes {
		msg := legacyBenchMessage(s)
		before := pf.Delivered("sink/")
		fmt.Fprintf(c.stderr, "bench mx: %d × %d KiB relayed by Umbra\n", *n, s>>10)
		busy0, total0 := cpuStat()
		self0, _ := cpuTime(os.Getpid())
		t0 := time.Now()
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(*sessions)
		for i := range *n {
			g.Go(func() error {
				_, err := node.Provider.SubmitLegacy(gctx, "alice@b.test", fmt.Sprintf("carol%d@sink.test", i), msg)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return fmt.Errorf("legacy submission: %w", err)
		}
		if err := waitDelivered(ctx, func() bool { return pf.Delivered("sink/")-before >= *n }); err != nil {
			return fmt.Errorf("relay through b.test: %w", err)
		}
		r := mxRow{size: s, server: "Umbra relay", n: *n, took: time.Since(t0), out: true}
		busy1, total1 := cpuStat()
		self1, _ := cpuTime(os.Getpid())
		r.busy = float64(busy1-busy0) / float64(max(total1-total0, 1))
		r.cpu = (self1 - self0) / time.Duration(*n)
		rows = append(rows, r)

		before = pf.Delivered("sink/")
		fmt.Fprintf(c.stderr, "bench mx: %d × %d KiB relayed by Postfix\n", *n, s>>10)
		busy0, total0 = cpuStat()
		t0 = time.Now()
		cmd := exec.CommandContext(ctx, source, "-s", strconv.Itoa(*sessions), "-m", strconv.Itoa(*n),
			"-l", strconv.Itoa(s), "-d", "-N", "-M", "b.test", "-f", "alice@b.test", "-t", "carol@sink.test", "-S", "bench", pfRelay.SMTP)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("smtp-source into the relaying Postfix: %v\n%s", err, out)
		}
		if err := waitDelivered(ctx, func() bool { return pf.Delivered("sink/")-before >= *n }); err != nil {
			return fmt.Errorf("relay through Postfix: %w", err)
		}
		r = mxRow{size: s, server: "Postfix relay", n: *n, took: time.Since(t0), out: true}
		busy1, total1 = cpuStat()
		r.busy = float64(busy1-busy0) / float64(max(total1-total0, 1))
		rows = append(rows, r)
	}

	printMachine(c.stdout, "mx", scratch, started)
	fmt.Fprintf(c.stdout, "load      smtp-source -s %d -d, %d messages per size and server, carol@legacy.test (SPF pass)\n\n", *sessions, *n)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "body\tserver\tmsgs/s\tMB/s\tCPU busy\tUmbra CPU/msg\tvs Postfix")
	for i, r := range rows {
		ratio, cpu := "", ""
		if strings.HasPrefix(r.server, "Umbra") && i+1 < len(rows) {
			ratio = fmt.Sprintf("%.2f×", r.rate()/rows[i+1].rate())
			cpu = ms(r.cpu)
		}
		fmt.Fprintf(tw, "%d KiB\t%s\t%.0f\t%.1f\t%.0f%%\t%s\t%s\n", r.size>>10, r.server, r.rate(), r.rate()*float64(r.size)/1e6, 100*r.busy, cpu, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "\nInbound: Umbra until the last 250 (sealed, fsynced); Postfix until the last message is in the Maildir.")
	fmt.Fprintln(c.stdout, "Outbound: from the first submission (Umbra: SubmitLegacy in process, DKIM-signed with Ed25519 and RSA;")
	fmt.Fprintln(c.stdout, "Postfix: smtp-source into a relaying Postfix, unsigned) until the last message is in the sink's Maildir.")
	fmt.Fprintln(c.stdout, "MB/s counts body bytes (10⁶ B). CPU busy: the whole machine's, from /proc/stat.")
	return nil
}

type mxRow struct {
	size   int
	server string
	n      int
	took   time.Duration
	busy   float64
	cpu    time.Duration
	out    bool // outbound
}

// legacyBenchMessage is a message from alice@b.test with a body of size
// bytes, in 76-character lines.
func legacyBenchMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: alice@b.test\r\nTo: carol@sink.test\r\nSubject: bench\r\nMessage-ID: <bench@b.test>\r\n\r\n")
	line := strings.Repeat("x", 74) + "\r\n"
	for n := 0; n < size; n += len(line) {
		b.WriteString(line)
	}
	return b.Bytes()
}

// waitDelivered polls done for at most 10 minutes.
func waitDelivered(ctx context.Context, done func() bool) error {
	for t0 := time.Now(); !done(); time.Sleep(5 * time.Millisecond) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(t0) > 10*time.Minute {
			return errors.New("not all messages delivered after 10 minutes")
		}
	}
	return nil
}

func (r mxRow) rate() float64 { return float64(r.n) / r.took.Seconds() }

// cpuStat returns the busy and total jiffies of all CPUs from /proc/stat.
func cpuStat() (busy, total uint64) {
	f, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[0] != "cpu" {
			continue
		}
		for i, s := range fields[1:] {
			v, _ := strconv.ParseUint(s, 10, 64)
			total += v
			if i != 3 && i != 4 { // idle, iowait
				busy += v
			}
		}
		break
	}
	return busy, total
}

// portOf is the port of host:port.
func portOf(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}
