package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"umbra/testnet"
)

// `umbra bench dmtp`: the delivery benchmark of testnet.BenchDMTP, with
// the facts of the machine it ran on, for docs/benchmarks.md.

func init() {
	register(verb{words: "bench dmtp", synopsis: "[--dir DIR] [--n N] [--size 4KiB|50KiB|both] [--senders N] [--e2e] [--db URL [--nodes 1,2]]", run: runBenchDMTP,
		help: `measure DMTP delivery against the disk's durable-write ceiling

Starts a.test and b.test in this process on loopback (an embedded DNS
server, real TLS 1.3 sockets), with alice@a.test and bob@b.test, in a
scratch directory under --dir that is removed afterwards. Seals N messages
from alice to bob and origin-signs them as a.test would (not measured:
sealing has its own benchmarks), then sends them over --senders DMTP
connections to b.test, which stores each in SQLite (WAL, synchronous=FULL,
group commit) before it answers 250. Each message is timed from MAIL to
that 250.

Then, on the same disk, the two ceilings for records of the same size:
one write+fsync per message, and --senders writers whose records one
committer batches into one write+fsync (everything queued when the
previous fsync returns); and the CPU ceiling: the same messages opened as
b.test must on arrival (HPKE decapsulation, origin signature, destination
chunk) on every CPU with nothing else running. The table gives the DMTP
rate as a fraction of each. With --e2e it also measures N messages submitted at a.test until
stored at b.test, through a.test's queue and relay workers.

With --db, the embedded run is followed, for each count in --nodes, by
one where b.test keeps its store in that PostgreSQL database, served by
that many nodes in this process (the connections spread over them); each
such run uses a schema of its own, made for it and dropped after it.
CPU/msg then leaves out PostgreSQL's own, given on a line of its own
when the cluster runs on this machine (its postmaster and children,
from /proc).

Point --dir at the disk a provider would use: on tmpfs fsync costs
nothing and the ceilings mean little. Progress goes to stderr.`})
}

// benchSizes are the --size choices: MIME body sizes in bytes.
var benchSizes = map[string][]int{"4KiB": {4 << 10}, "50KiB": {50 << 10}, "both": {4 << 10, 50 << 10}}

func runBenchDMTP(c *cmd) error {
	dir := c.flags.String("dir", os.TempDir(), "directory on the disk to measure (a scratch directory is made and removed inside it)")
	n := c.flags.Int("n", 2000, "messages per size")
	size := c.flags.String("size", "both", "MIME body of each message: 4KiB, 50KiB or both")
	senders := c.flags.Int("senders", 16, "concurrent DMTP connections, and writers in the group-commit ceiling")
	e2e := c.flags.Bool("e2e", false, "also measure Submit at a.test until stored at b.test, through the queue")
	db := c.flags.String("db", "", "also measure b.test on this PostgreSQL database (a postgres:// `URL`), in schemas made for the runs")
	nodesFlag := c.flags.String("nodes", "1", "with --db: b.test's node counts to measure, comma-separated")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	if err := checkDB(*db); err != nil {
		return err
	}
	nodeCounts, err := parseNodes(*nodesFlag)
	if err != nil {
		return err
	}
	sizes, ok := benchSizes[*size]
	if !ok {
		return usageErrorf("--size %q: want 4KiB, 50KiB or both", *size)
	}
	if *n < 1 || *senders < 1 {
		return usageErrorf("--n and --senders must be at least 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now().UTC()
	var results []*testnet.BenchResult
	for _, s := range sizes {
		o := testnet.BenchOptions{Dir: *dir, Size: s, N: *n, Senders: *senders, EndToEnd: *e2e, Progress: c.stderr}
		r, err := testnet.BenchDMTP(ctx, o)
		if err != nil {
			return err
		}
		results = append(results, r)
		for _, nodes := range nodeCounts {
			if *db == "" {
				break
			}
			url, drop, err := benchSchema(ctx, *db, len(results))
			if err != nil {
				return err
			}
			o.DB, o.Nodes = url, nodes
			r, err := testnet.BenchDMTP(ctx, o)
			drop()
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	printMachine(c.stdout, "dmtp", *dir, started)
	fmt.Fprintf(c.stdout, "messages  %d per size, alice@a.test → bob@b.test; sealing and origin signing done beforehand, not measured\n\n", *n)
	return printBench(c.stdout, results)
}

// printMachine prints what a reader needs to compare the figures.
func printMachine(w io.Writer, bench, dir string, at time.Time) {
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	mounts, _ := os.ReadFile("/proc/self/mounts")
	disk := "unknown filesystem (no /proc/self/mounts)"
	if abs, err := filepath.Abs(dir); err == nil {
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		dir = abs
		if dev, fstype, mnt := mountOf(mounts, abs); fstype != "" {
			disk = fmt.Sprintf("%s on %s, mounted at %s", fstype, dev, mnt)
		}
	}
	fmt.Fprintf(w, "umbra bench %s, %s\n", bench, at.Format(time.RFC3339))
	fmt.Fprintf(w, "go        %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "cpu       %s, %d logical CPUs, GOMAXPROCS %d\n", cpuModel(cpuinfo), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "disk      %s: %s\n", dir, disk)
}

// printBench prints one table for all sizes, then the sizes on the wire.
func printBench(w io.Writer, results []*testnet.BenchResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "body\trun\tmsgs/s\tMB/s\tp50\tp99\tmax\tCPU/msg\tmsgs/fsync\tDMTP share")
	for _, r := range results {
		body := fmt.Sprintf("%d KiB", r.Options.Size>>10)
		if r.Options.Size%1024 != 0 {
			body = fmt.Sprintf("%d B", r.Options.Size)
		}
		row := func(name string, x testnet.Rate, share string) {
			perCommit := ""
			if x.PerCommit > 0 {
				perCommit = fmt.Sprintf("%.1f", x.PerCommit)
			}
			cpu := ""
			if x.CPU > 0 {
				cpu = ms(x.CPU)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\n", body, name, x.PerSecond(), x.MBPerSecond(),
				ms(x.P50), ms(x.P99), ms(x.Max), cpu, perCommit, share)
		}
		store := "embedded store"
		if r.Options.DB != "" {
			store = fmt.Sprintf("PostgreSQL, %d node(s)", r.Options.Nodes)
		}
		row(fmt.Sprintf("DMTP, %d connections (MAIL → 250 after DATA), %s", r.Options.Senders, store), r.DMTP, "")
		if r.DBCPU > 0 {
			fmt.Fprintf(tw, "%s\t  PostgreSQL's own CPU/msg\t\t\t\t\t\t%s\t\t\n", body, ms(r.DBCPU))
		}
		row("ceiling: write+fsync per message", r.Serial, percent(r.OfSerial()))
		row(fmt.Sprintf("ceiling: group commit, %d writers", r.Options.Senders), r.Group, percent(r.OfGroup()))
		row(fmt.Sprintf("ceiling: CPU, b.test's D/MIME checks on %d CPUs", runtime.GOMAXPROCS(0)), r.Open, percent(r.OfOpen()))
		if r.EndToEnd != nil {
			row(fmt.Sprintf("end to end: Submit at a.test → stored at b.test, %d submitters", r.Options.Senders), *r.EndToEnd, "")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nDMTP share: the DMTP rate as a fraction of that ceiling. MB/s counts sealed message bytes (10⁶ B).")
	fmt.Fprintln(w, "CPU/msg: CPU time of the whole process (both providers and the senders) per message; it moves little")
	fmt.Fprintln(w, "when other work shares the machine, unlike the rates.")
	for _, r := range results {
		fmt.Fprintf(w, "A %d-byte body seals to %d bytes on the wire; the ceilings write records of that size.\n", r.Options.Size, r.WireSize)
	}
	return nil
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms" }

func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" }

// cpuModel returns the first "model name" of a /proc/cpuinfo.
func cpuModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// mountOf finds the mount holding path (absolute, symlinks resolved) in a
// /proc/self/mounts table (proc_pid_mounts(5): device, mount point, type,
// ..., with space, tab, newline and backslash escaped as \ooo): the
// longest mount point that contains it, the later one of equals, since a
// later mount hides an earlier one on the same point.
func mountOf(mounts []byte, path string) (dev, fstype, mnt string) {
	best := -1
	for line := range strings.Lines(string(mounts)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		m := unescapeMount(f[1])
		if !strings.HasPrefix(m, "/") || len(m) < best {
			continue
		}
		if m == "/" || path == m || strings.HasPrefix(path, m+"/") {
			best, dev, fstype, mnt = len(m), unescapeMount(f[0]), f[2], m
		}
	}
	return dev, fstype, mnt
}

// unescapeMount undoes the kernel's \ooo octal escapes.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
