package testnet

// The DMTP delivery benchmark (`umbra bench dmtp`, and BenchmarkDMTP4K and
// BenchmarkDMTP50K): messages from a.test to b.test over loopback, stored
// durably by b.test, measured beside the durable-write ceilings of the
// same disk (FsyncCeiling, GroupCommitCeiling) so that the result reads as
// a fraction of what the disk allows. docs/benchmarks.md records the
// figures.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

// BenchOptions configure BenchDMTP. Zero values take the defaults named.
type BenchOptions struct {
	// Dir is where the run makes its scratch directory, removed at the
	// end: b.test's store and the ceiling files both live there, so they
	// measure the same disk. Required.
	Dir string
	// Size is the MIME body of each message in bytes (default 4 KiB).
	Size int
	// N is the number of messages (default 2000).
	N int
	// Senders is the number of concurrent DMTP connections, and of writers
	// in the group-commit ceiling (default 16).
	Senders int
	// EndToEnd also measures N more messages submitted at a.test until
	// they are stored at b.test, through a.test's queue and relay workers.
	EndToEnd bool
	// Progress receives a line per phase and a count every second while
	// messages move; nil for silence.
	Progress io.Writer
	// DB is b.test's store: "" for the embedded one in the scratch
	// directory, or the postgres:// URL of an empty database.
	DB string
	// Nodes is the number of b.test's nodes sharing DB (default 1; more
	// only with DB), in this process; the senders' connections are spread
	// over them.
	Nodes int
}

// Limits of BenchOptions: a sealed message must fit DMTP's default SIZE,
// and the messages of one run are held in memory.
const (
	maxBenchSize    = 16 << 20
	maxBenchN       = 1_000_000
	maxBenchSenders = 1024
)

func (o *BenchOptions) setDefaults() error {
	if o.Dir == "" {
		return errors.New("testnet: bench: BenchOptions.Dir is required")
	}
	if o.Size == 0 {
		o.Size = 4 << 10
	}
	if o.N == 0 {
		o.N = 2000
	}
	if o.Senders == 0 {
		o.Senders = 16
	}
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	switch {
	case o.Size < 1 || o.Size > maxBenchSize:
		return fmt.Errorf("testnet: bench: message size %d out of range 1..%d", o.Size, maxBenchSize)
	case o.N < 1 || o.N > maxBenchN:
		return fmt.Errorf("testnet: bench: message count %d out of range 1..%d", o.N, maxBenchN)
	case o.Senders < 1 || o.Senders > maxBenchSenders:
		return fmt.Errorf("testnet: bench: %d senders out of range 1..%d", o.Senders, maxBenchSenders)
	case o.Nodes < 1 || o.Nodes > o.Senders || (o.Nodes > 1 && o.DB == ""):
		return fmt.Errorf("testnet: bench: %d nodes: want 1, or up to one per sender with a PostgreSQL store", o.Nodes)
	}
	return nil
}

// BenchResult is one run of BenchDMTP.
type BenchResult struct {
	Options  BenchOptions  // as run, defaults filled in
	WireSize int           // mean bytes of one sealed, origin-signed message: the ceilings write records of this size
	DMTP     Rate          // MAIL to the 250 after DATA, Senders connections
	Stored   int           // bob's mail documents at b.test after the DMTP run (= Options.N)
	DBCPU    time.Duration // PostgreSQL's CPU per message of the DMTP run (clusterCPU); 0 without DB or off this machine
	Open     Rate          // ceiling: b.test's D/MIME checks alone, on every CPU (OpenCeiling)
	EndToEnd *Rate         // Submit at a.test until stored at b.test; nil unless asked for
	Serial   Rate          // ceiling: one write+fsync per message
	Group    Rate          // ceiling: Senders writers, one write+fsync per batch
}

// OfSerial and OfGroup are the DMTP rate as a fraction of each ceiling.
func (r *BenchResult) OfSerial() float64 { return r.DMTP.PerSecond() / r.Serial.PerSecond() }
func (r *BenchResult) OfGroup() float64  { return r.DMTP.PerSecond() / r.Group.PerSecond() }

// OfOpen is the DMTP rate as a fraction of the CPU ceiling.
func (r *BenchResult) OfOpen() float64 { return r.DMTP.PerSecond() / r.Open.PerSecond() }

// BenchDMTP runs the benchmark: a fresh network of a.test and b.test with
// alice@a.test and bob@b.test under a scratch directory in o.Dir; N
// messages sealed by alice to bob and origin-signed by a.test before the
// clock starts (sealing is measured by dmime's benchmarks, not here); then
// o.Senders connections send them to b.test, which answers each DATA only
// once the message is durable. Afterwards the CPU ceiling (OpenCeiling)
// and, on the same disk, the two durable-write ceilings with records of
// the messages' size.
func BenchDMTP(ctx context.Context, o BenchOptions) (*BenchResult, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp(o.Dir, "umbra-bench-")
	if err != nil {
		return nil, fmt.Errorf("testnet: bench: %w", err)
	}
	defer os.RemoveAll(scratch)
	res := &BenchResult{Options: o}
	if err := res.runNetwork(ctx, scratch); err != nil {
		return nil, err
	}
	say(o.Progress, "ceiling: write+fsync per message, %d records of %d bytes", o.N, res.WireSize)
	if res.Serial, err = FsyncCeiling(ctx, scratch, res.WireSize, o.N); err != nil {
		return nil, err
	}
	say(o.Progress, "ceiling: group commit, %d writers, %d records of %d bytes", o.Senders, o.N, res.WireSize)
	if res.Group, err = GroupCommitCeiling(ctx, scratch, res.WireSize, o.N, o.Senders); err != nil {
		return nil, err
	}
	return res, nil
}

// runNetwork measures DMTP (and the queue, if asked) and shuts the
// network down, so the ceilings run on a quiet machine.
func (res *BenchResult) runNetwork(ctx context.Context, dir string) error {
	o := res.Options
	say(o.Progress, "starting a.test and b.test in %s", dir)
	d, err := NewDMTPBench(ctx, dir, o.DB, o.Nodes)
	if err != nil {
		return err
	}
	defer d.Close()
	say(o.Progress, "sealing and origin-signing %d messages of %d bytes (not measured)", o.N, o.Size)
	sealed, err := d.Sealed(o.Size, o.N)
	if err != nil {
		return err
	}
	signed, err := d.OriginSigned(sealed)
	if err != nil {
		return err
	}
	res.WireSize = int(totalBytes(signed) / int64(len(signed)))
	var pg *clusterCPU
	if o.DB != "" {
		if pg, err = newClusterCPU(ctx, o.DB); err != nil {
			say(o.Progress, "PostgreSQL's CPU not measured: %v", err)
		}
	}
	var pg0 time.Duration
	if pg != nil {
		pg0 = pg.total()
	}
	say(o.Progress, "sending over DMTP, %d connections to %d node(s)", o.Senders, o.Nodes)
	if res.DMTP, err = d.Send(ctx, signed, o.Senders, o.Progress); err != nil {
		return err
	}
	if pg != nil {
		res.DBCPU = (pg.total() - pg0) / time.Duration(len(signed))
	}
	if res.Stored, _, err = d.Mailbox(ctx); err != nil {
		return err
	}
	if res.Stored != o.N {
		return fmt.Errorf("testnet: bench: bob has %d messages after %d were acknowledged", res.Stored, o.N)
	}
	say(o.Progress, "ceiling: opening the %d messages as b.test on %d CPUs", o.N, runtime.GOMAXPROCS(0))
	if res.Open, err = d.OpenCeiling(ctx, signed); err != nil {
		return err
	}
	if !o.EndToEnd {
		return nil
	}
	say(o.Progress, "sealing %d more messages for the queue (not measured)", o.N)
	if sealed, err = d.Sealed(o.Size, o.N); err != nil {
		return err
	}
	say(o.Progress, "submitting at a.test, %d submitters, until stored at b.test", o.Senders)
	e2e, err := d.Relay(ctx, sealed, o.Senders, o.Progress)
	if err != nil {
		return err
	}
	res.EndToEnd = &e2e
	return nil
}
