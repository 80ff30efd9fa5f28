package testnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/dmime"
	"umbra/dmtp"
	"umbra/provider/store"
	"umbra/signet"
)

// The benchmarks `umbra bench dmtp` runs, as go test benchmarks: DMTP
// delivery from a.test to b.test with 16 senders, and the two durable-write
// ceilings of the disk under TMPDIR with records the size of those
// messages. Run them side by side, on one disk:
//
//	go test -run '^$' -bench . -benchtime 2000x ./testnet
//
// ns/op of BenchmarkDMTP* includes dialling the 16 connections; msgs/s,
// p50-ms and p99-ms do not.

const benchSenders = 16

func BenchmarkDMTP4K(b *testing.B)  { benchmarkDMTP(b, 4<<10) }
func BenchmarkDMTP50K(b *testing.B) { benchmarkDMTP(b, 50<<10) }

func benchmarkDMTP(b *testing.B, size int) {
	d, err := NewDMTPBench(b.Context(), b.TempDir(), "", 1)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	sealed, err := d.Sealed(size, b.N)
	if err != nil {
		b.Fatal(err)
	}
	signed, err := d.OriginSigned(sealed)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(totalBytes(signed) / int64(b.N))
	b.ResetTimer()
	r, err := d.Send(b.Context(), signed, benchSenders, nil)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	report(b, r)
}

// benchSizes are the MIME body sizes; the ceilings write records of the
// sealed, origin-signed size of such a message.
var benchSizes = []struct {
	name string
	size int
}{{"4KiB", 4 << 10}, {"50KiB", 50 << 10}}

func BenchmarkFsyncCeiling(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			rec := wireSize(b, s.size)
			b.SetBytes(int64(rec))
			r, err := FsyncCeiling(b.Context(), b.TempDir(), rec, b.N)
			if err != nil {
				b.Fatal(err)
			}
			report(b, r)
		})
	}
}

func BenchmarkGroupCommitCeiling(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(fmt.Sprintf("%s/writers=%d", s.name, benchSenders), func(b *testing.B) {
			rec := wireSize(b, s.size)
			b.SetBytes(int64(rec))
			r, err := GroupCommitCeiling(b.Context(), b.TempDir(), rec, b.N, benchSenders)
			if err != nil {
				b.Fatal(err)
			}
			report(b, r)
		})
	}
}

// BenchmarkOpenCeiling opens b.N messages as their destination on every
// CPU: the CPU ceiling of BenchmarkDMTP*.
func BenchmarkOpenCeiling(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			d, err := NewDMTPBench(b.Context(), b.TempDir(), "", 1)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			sealed, err := d.Sealed(s.size, b.N)
			if err != nil {
				b.Fatal(err)
			}
			signed, err := d.OriginSigned(sealed)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(totalBytes(signed) / int64(b.N))
			b.ResetTimer()
			r, err := d.OpenCeiling(b.Context(), signed)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			report(b, r)
		})
	}
}

func report(b *testing.B, r Rate) {
	b.ReportMetric(r.PerSecond(), "msgs/s")
	b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ms")
	if r.PerCommit > 0 {
		b.ReportMetric(r.PerCommit, "msgs/commit")
	}
	if r.CPU > 0 {
		b.ReportMetric(float64(r.CPU.Microseconds()), "cpu-us/msg")
	}
}

var wireSizes sync.Map // MIME body size → bytes of the sealed, origin-signed message

// wireSize seals one message of a size-byte body, once per process, and
// returns its size on the wire, with the timer stopped.
func wireSize(b *testing.B, size int) int {
	if n, ok := wireSizes.Load(size); ok {
		return n.(int)
	}
	b.StopTimer()
	defer b.StartTimer()
	d, err := NewDMTPBench(b.Context(), b.TempDir(), "", 1)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	sealed, err := d.Sealed(size, 1)
	if err != nil {
		b.Fatal(err)
	}
	signed, err := d.OriginSigned(sealed)
	if err != nil {
		b.Fatal(err)
	}
	wireSizes.Store(size, len(signed[0]))
	return len(signed[0])
}

// checkRate fails unless r describes n messages of plausible timing.
func checkRate(t *testing.T, what string, r Rate, n int) {
	t.Helper()
	if r.N != n || r.Elapsed <= 0 || r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max || r.Max > r.Elapsed || r.Bytes < int64(n) {
		t.Errorf("%s: implausible %+v for %d messages", what, r, n)
	}
}

// A small run of the whole benchmark: every acknowledged message is in
// bob's mailbox, the figures are consistent with each other, and the
// scratch directory is gone afterwards.
func TestBenchDMTPSmall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var progress bytes.Buffer
	const n, size = 50, 4 << 10
	res, err := BenchDMTP(t.Context(), BenchOptions{Dir: dir, N: n, Size: size, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Options; o.Senders != 16 || o.N != n || o.Size != size {
		t.Errorf("options as run: %+v", o)
	}
	if res.Stored != n {
		t.Errorf("bob has %d messages, want %d", res.Stored, n)
	}
	// The sealed message is larger than its body: keyslots, chunk headers,
	// signatures, padding.
	if res.WireSize <= size {
		t.Errorf("wire size %d for a %d-byte body", res.WireSize, size)
	}
	checkRate(t, "DMTP", res.DMTP, n)
	checkRate(t, "serial ceiling", res.Serial, n)
	checkRate(t, "group ceiling", res.Group, n)
	checkRate(t, "open ceiling", res.Open, n)
	if res.DMTP.Bytes/n != int64(res.WireSize) {
		t.Errorf("DMTP moved %d bytes, wire size %d", res.DMTP.Bytes, res.WireSize)
	}
	if res.Serial.Bytes != int64(res.WireSize)*n || res.Group.Bytes != int64(res.WireSize)*n {
		t.Errorf("ceilings wrote %d and %d bytes, want %d", res.Serial.Bytes, res.Group.Bytes, res.WireSize*n)
	}
	if res.Serial.PerCommit != 1 || res.Group.PerCommit < 1 || res.Group.PerCommit > 16 {
		t.Errorf("messages per commit: serial %v, group %v", res.Serial.PerCommit, res.Group.PerCommit)
	}
	if res.EndToEnd != nil {
		t.Error("end-to-end figures without EndToEnd")
	}
	if runtime.GOOS == "linux" && (res.DMTP.CPU <= 0 || res.Open.CPU <= 0) {
		t.Errorf("no CPU time per message on Linux: DMTP %v, open %v", res.DMTP.CPU, res.Open.CPU)
	}
	if res.OfGroup() <= 0 || res.OfSerial() <= 0 || res.OfOpen() <= 0 {
		t.Errorf("fractions %v, %v, %v", res.OfSerial(), res.OfGroup(), res.OfOpen())
	}
	for _, phase := range []string{"sealing", "sending over DMTP", "opening the 50 messages", "write+fsync per message", "group commit"} {
		if !strings.Contains(progress.String(), phase) {
			t.Errorf("progress lacks %q:\n%s", phase, progress.String())
		}
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("scratch left behind: %v %v", left, err)
	}
}

// What Send reports as delivered is in bob's mailbox, one document per
// message, and opens with bob's keys to the MIME alice sealed.
func TestDMTPBenchDelivers(t *testing.T) {
	t.Parallel()
	d, err := NewDMTPBench(t.Context(), t.TempDir(), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const n, size = 12, 1000
	sealed, err := d.Sealed(size, n)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := d.OriginSigned(sealed)
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Send(t.Context(), signed, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRate(t, "DMTP", r, n)
	subjects := d.openBobsMail(t)
	if len(subjects) != n {
		t.Fatalf("bob has %d messages, want %d", len(subjects), n)
	}
	for i := range n {
		if !subjects[fmt.Sprintf("benchmark message %d", i)] {
			t.Errorf("message %d missing; bob has %v", i, subjects)
		}
	}
	// A message without a.test's origin signature is refused, and the
	// refusal ends the run with the peer's reply.
	_, err = d.Send(t.Context(), sealed[:4], 2, nil)
	var de *dmtp.Error
	if !errors.As(err, &de) || de.Code != 554 {
		t.Fatalf("unsigned message: %v, want a 554 reply", err)
	}
	if c, _, err := d.Mailbox(t.Context()); err != nil || c != n {
		t.Fatalf("bob has %d messages after the refusal (%v), want %d", c, err, n)
	}
	// The CPU ceiling checks the origin signature too.
	if _, err := d.OpenCeiling(t.Context(), sealed[:2]); !errors.Is(err, dmime.ErrNoOriginSignature) {
		t.Fatalf("open ceiling of unsigned messages: %v", err)
	}
	if r, err := d.OpenCeiling(t.Context(), signed); err != nil {
		t.Fatal(err)
	} else {
		checkRate(t, "open ceiling", r, n)
	}
}

// openBobsMail opens every mail document of bob's as bob, checking the
// author and origin signatures, and returns the Subject lines, each
// checked to come with a body of the benchmark's size.
func (d *DMTPBench) openBobsMail(t *testing.T) map[string]bool {
	t.Helper()
	mb := d.B.Provider.Store().Mailbox()
	page, err := mb.Changes(t.Context(), d.Bob.Address, 0, store.MaxPage)
	if err != nil {
		t.Fatal(err)
	}
	subjects := map[string]bool{}
	for _, c := range page {
		if c.Kind != store.KindMail {
			continue
		}
		doc, err := mb.Get(t.Context(), d.Bob.Address, c.DocID)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_, err = dmime.Open(bytes.NewReader(doc.Data), dmime.RoleRecipient, d.Bob.Enc, dmime.OpenOptions{
			MIME: &out,
			AuthorKey: func(address string, fp signet.Fingerprint, _ *dmime.Carried) (ed25519.PublicKey, error) {
				if address != d.Alice.Address || fp != d.Alice.Signet.Fingerprint() {
					return nil, fmt.Errorf("author %s %s is not alice", address, fp)
				}
				return d.Alice.Signet.SigningKey, nil
			},
			OriginKeys: []ed25519.PublicKey{d.aOrg.SOKs[0].Key},
			Recipient:  d.Bob.Address,
		})
		if err != nil {
			t.Fatalf("document %s: %v", c.DocID, err)
		}
		head, body, _ := strings.Cut(out.String(), "\r\n\r\n")
		_, subject, _ := strings.Cut(head, "Subject: ")
		subject, _, _ = strings.Cut(subject, "\r\n")
		if len(body) != 1000 || subjects[subject] {
			t.Errorf("document %s: subject %q (seen before: %v), body of %d bytes", c.DocID, subject, subjects[subject], len(body))
		}
		subjects[subject] = true
	}
	return subjects
}

// The end-to-end run goes through a.test's queue: every submitted message
// is seen arriving in bob's mailbox.
func TestRelayEndToEndSmall(t *testing.T) {
	t.Parallel()
	d, err := NewDMTPBench(t.Context(), t.TempDir(), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const n = 20
	sealed, err := d.Sealed(2000, n)
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Relay(t.Context(), sealed, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRate(t, "end to end", r, n)
	if c, _, err := d.Mailbox(t.Context()); err != nil || c != n {
		t.Fatalf("bob has %d messages (%v), want %d", c, err, n)
	}
}

func TestBenchMIME(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 75, 76, 77, 78, 4 << 10} {
		a, b := BenchMIME(3, size), BenchMIME(3, size)
		head, body, ok := strings.Cut(string(a), "\r\n\r\n")
		if !ok || len(body) != size || !strings.Contains(head, "Subject: benchmark message 3\r\n") {
			t.Errorf("size %d: %q", size, a)
		}
		if size > 40 && bytes.Equal(a, b) {
			t.Errorf("size %d: two messages alike", size)
		}
	}
}

func TestCeilings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r, err := FsyncCeiling(t.Context(), dir, 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkRate(t, "fsync", r, 10)
	g, err := GroupCommitCeiling(t.Context(), dir, 100, 40, 8)
	if err != nil {
		t.Fatal(err)
	}
	checkRate(t, "group", g, 40)
	if g.PerCommit < 1 || g.PerCommit > 8 {
		t.Errorf("%v records per commit with 8 writers", g.PerCommit)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("ceiling files left behind: %v %v", left, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := FsyncCeiling(ctx, dir, 100, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fsync ceiling: %v", err)
	}
	if _, err := GroupCommitCeiling(ctx, dir, 100, 10, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled group ceiling: %v", err)
	}
	if _, err := GroupCommitCeiling(t.Context(), dir, 0, 10, 2); err == nil {
		t.Error("empty records accepted")
	}
}

func TestBenchOptionsRejected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, o := range []BenchOptions{
		{},
		{Dir: dir, N: -1},
		{Dir: dir, Senders: maxBenchSenders + 1},
		{Dir: dir, Size: maxBenchSize + 1},
		{Dir: dir, Nodes: 2}, // several nodes need a shared store
		{Dir: dir, Nodes: 17, DB: "postgres://umbra@127.0.0.1/x"}, // more nodes than connections
	} {
		if _, err := BenchDMTP(t.Context(), o); err == nil || !strings.Contains(err.Error(), "testnet: bench:") {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("rejected options left %v", left)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	t.Parallel()
	// utime 150 and stime 25 ticks; the command contains ") (" and spaces.
	line := "4242 (my) (prog x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 150 25 0 0 20 0 9 0 100 2000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	if d, err := parseProcStatCPU([]byte(line)); err != nil || d != 1750*time.Millisecond {
		t.Errorf("got %v, %v; want 1.75s", d, err)
	}
	for _, bad := range []string{
		"", "4242 prog S 1", "4242 (prog) S 1 2 3",
		"1 (p) S 1 1 1 0 -1 0 0 0 0 0 -5 25 0",
		"1 (p) S 1 1 1 0 -1 0 0 0 0 0 99999999999 25 0",
	} {
		if d, err := parseProcStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q: %v, want an error", bad, d)
		}
	}
	if runtime.GOOS == "linux" && processCPU() < 0 {
		t.Error("no CPU time from /proc/self/stat on Linux")
	}
}

func FuzzParseProcStatCPU(f *testing.F) {
	f.Add([]byte("4242 (my) (prog x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 150 25 0 0 20 0 9 0\n"))
	f.Add([]byte("1 (p) S 1 1 1 0 -1 0 0 0 0 0 4294967295 4294967295 0"))
	f.Add([]byte(")))"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseProcStatCPU(b); err == nil && d < 0 {
			t.Fatalf("negative CPU time %v", d)
		}
	})
}
