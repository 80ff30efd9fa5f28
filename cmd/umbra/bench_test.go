package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A small `umbra bench dmtp` prints the machine and a table with the DMTP
// row and both ceilings, reports progress on stderr, and leaves nothing in
// --dir.
func TestBenchDMTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := umbra(t, "bench", "dmtp", "--n", "30", "--size", "4KiB", "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"go        go1.", "cpu       ", "disk      " + dir,
		"4 KiB  DMTP, 16 connections (MAIL → 250 after DATA)",
		"4 KiB  ceiling: write+fsync per message",
		"4 KiB  ceiling: group commit, 16 writers",
		"4 KiB  ceiling: CPU, b.test's D/MIME checks on ",
		"A 4096-byte body seals to ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Each ceiling row ends with the DMTP share of it.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "ceiling:") && !strings.HasSuffix(strings.TrimSpace(line), "%") {
			t.Errorf("ceiling row without a share: %q", line)
		}
	}
	if strings.Contains(out, "end to end") {
		t.Error("end-to-end row without --e2e")
	}
	if !strings.Contains(errOut, "bench: sending over DMTP") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("left in --dir: %v %v", left, err)
	}
}

// With --db and --nodes 1,2 one invocation measures the embedded store,
// one PostgreSQL node and two, each PostgreSQL run in a schema of its own
// that is dropped afterwards, with PostgreSQL's CPU on a line of its own.
func TestBenchDMTPPostgres(t *testing.T) {
	t.Parallel()
	url := pg.NewDatabase(t)
	code, out, errOut := umbra(t, "bench", "dmtp", "--n", "30", "--size", "4KiB", "--dir", t.TempDir(), "--db", url, "--nodes", "1,2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"4 KiB  DMTP, 16 connections (MAIL → 250 after DATA), embedded store",
		"4 KiB  DMTP, 16 connections (MAIL → 250 after DATA), PostgreSQL, 1 node(s)",
		"4 KiB  DMTP, 16 connections (MAIL → 250 after DATA), PostgreSQL, 2 node(s)",
		"PostgreSQL's own CPU/msg",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var left int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'umbra_bench_%'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d schemas left behind (%v)", left, err)
	}
}

func TestBenchDMTPUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--size", "8KiB"},
		{"--n", "0"},
		{"--senders", "-1"},
		{"--nodes", "0"},
		{"--nodes", "1,x"},
		{"extra"},
	} {
		code, _, errOut := umbra(t, append([]string{"bench", "dmtp", "--dir", t.TempDir()}, args...)...)
		if code != 2 || !strings.Contains(errOut, "usage: umbra bench dmtp") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

func TestCPUModel(t *testing.T) {
	t.Parallel()
	info := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: other\n"
	if got := cpuModel([]byte(info)); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	for _, bad := range []string{"", "model name\t:\n", "model\t: 1\n", "\x00\xff"} {
		if got := cpuModel([]byte(bad)); got != "unknown CPU" {
			t.Errorf("cpuModel(%q) = %q", bad, got)
		}
	}
}

const testMounts = `/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw 0 0
tmpfs /tmp tmpfs rw 0 0
/dev/vdb /srv/mail\040box xfs rw 0 0
/dev/vdc /tmp/deep ext4 rw 0 0
overlay /tmp/deep overlay rw 0 0
`

func TestMountOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ path, dev, fstype, mnt string }{
		{"/work/main/.bench-tmp", "/dev/vda", "ext4", "/"},
		{"/tmp", "tmpfs", "tmpfs", "/tmp"},
		{"/tmpfoo/x", "/dev/vda", "ext4", "/"},
		{"/tmp/x", "tmpfs", "tmpfs", "/tmp"},
		{"/srv/mail box/data", "/dev/vdb", "xfs", "/srv/mail box"},
		{"/tmp/deep/x", "overlay", "overlay", "/tmp/deep"}, // the later mount hides the earlier
	} {
		dev, fstype, mnt := mountOf([]byte(testMounts), c.path)
		if dev != c.dev || fstype != c.fstype || mnt != c.mnt {
			t.Errorf("%s: %s %s %s, want %s %s %s", c.path, dev, fstype, mnt, c.dev, c.fstype, c.mnt)
		}
	}
	if _, fstype, _ := mountOf([]byte("garbage\nnone relative x\n"), "/a"); fstype != "" {
		t.Errorf("found %q in garbage", fstype)
	}
}

// /proc files are the kernel's, but the parsers must not panic on
// anything.
func FuzzMountOf(f *testing.F) {
	f.Add([]byte(testMounts), "/srv/mail box/x")
	f.Add([]byte(`a /\0 b`+"\n"+`\777 /x\1 c`), "/x")
	f.Fuzz(func(t *testing.T, mounts []byte, path string) {
		if len(mounts) > 1<<16 {
			return
		}
		_, fstype, mnt := mountOf(mounts, path)
		if fstype != "" && !strings.HasPrefix(mnt, "/") {
			t.Fatalf("mount point %q", mnt)
		}
		cpuModel(mounts)
	})
}

func TestStatCPU(t *testing.T) {
	t.Parallel()
	// proc(5): pid (comm) state ppid ... utime(14) stime(15) ...; a
	// command name may hold spaces and parentheses.
	line := "4242 (umbra (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 12345 0 0\n"
	if d, err := statCPU([]byte(line)); err != nil || d != 3250*time.Millisecond {
		t.Fatalf("statCPU = %v, %v; want 3.25s", d, err)
	}
	for _, bad := range []string{"", "4242 (umbra", "4242 (umbra) S 1 2", "4242 (u) S 1 4242 4242 0 -1 1 1 0 0 0 x 75 0"} {
		if _, err := statCPU([]byte(bad)); err == nil {
			t.Errorf("statCPU(%q) accepted", bad)
		}
	}
	if d, err := cpuTime(os.Getpid()); err != nil || d < 0 {
		t.Fatalf("cpuTime of this process: %v, %v", d, err)
	}
}

// A tiny `umbra bench search` prints the machine and the table against
// notmuch with every row, and leaves nothing in --dir.
func TestBenchSearch(t *testing.T) {
	t.Parallel()
	needProgram(t, "notmuch")
	dir := t.TempDir()
	code, out, errOut := umbra(t, "bench", "search", "--n", "40", "--queries", "3", "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"umbra bench search, ", "cpu       ", "load      ", "mail      40 messages, ",
		"import+index msgs/s", "index size ÷ mail size", "1 word p50", "3 words p99", "substring p99", "rare word p50",
		"absent word p99",
		"Queries: 3 of each kind", "notmuch is a process per query",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, " - ") || strings.Contains(out, "0.00ms") {
		t.Errorf("a measurement is missing:\n%s", out)
	}
	if !strings.Contains(errOut, "bench: notmuch: notmuch new") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("left in --dir: %v %v", left, err)
	}
}
