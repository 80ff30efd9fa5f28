package testnet

// The DMTP delivery benchmark (`umbra bench dmtp`, and BenchmarkDMTP4K and
// BenchmarkDMTP50K): messages from a.test to b.test over loopback, stored
// durably by b.test, measured beside the durable-write ceilings of the
// same disk (FsyncCeiling, GroupCommitCeiling) so that the result reads as
// a fraction of what the disk allows. docs/benchmarks.md records the
// figures.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"umbra/dmime"
	"umbra/dmtp"
	"umbra/provider/store"
	"umbra/signet"
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
	switch {
	case o.Size < 1 || o.Size > maxBenchSize:
		return fmt.Errorf("testnet: bench: message size %d out of range 1..%d", o.Size, maxBenchSize)
	case o.N < 1 || o.N > maxBenchN:
		return fmt.Errorf("testnet: bench: message count %d out of range 1..%d", o.N, maxBenchN)
	case o.Senders < 1 || o.Senders > maxBenchSenders:
		return fmt.Errorf("testnet: bench: %d senders out of range 1..%d", o.Senders, maxBenchSenders)
	}
	return nil
}

// BenchResult is one run of BenchDMTP.
type BenchResult struct {
	Options  BenchOptions // as run, defaults filled in
	WireSize int          // mean bytes of one sealed, origin-signed message: the ceilings write records of this size
	DMTP     Rate         // MAIL to the 250 after DATA, Senders connections
	Stored   int          // bob's mail documents at b.test after the DMTP run (= Options.N)
	Open     Rate         // ceiling: b.test's D/MIME checks alone, on every CPU (OpenCeiling)
	EndToEnd *Rate        // Submit at a.test until stored at b.test; nil unless asked for
	Serial   Rate         // ceiling: one write+fsync per message
	Group    Rate         // ceiling: Senders writers, one write+fsync per batch
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
	d, err := NewDMTPBench(ctx, dir)
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
	say(o.Progress, "sending over DMTP, %d connections", o.Senders)
	if res.DMTP, err = d.Send(ctx, signed, o.Senders, o.Progress); err != nil {
		return err
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

// DMTPBench is the benchmark's network, started: a.test and b.test
// in-process with alice@a.test and bob@b.test. Its methods are called by
// one goroutine at a time.
type DMTPBench struct {
	Net        *Network
	A, B       *Node
	Alice, Bob *User
	aOrg, bOrg *signet.Org
}

// NewDMTPBench builds the network under dir, which must exist.
func NewDMTPBench(ctx context.Context, dir string) (*DMTPBench, error) {
	n, err := New(dir)
	if err != nil {
		return nil, fmt.Errorf("testnet: bench: %w", err)
	}
	d := &DMTPBench{Net: n}
	if err := d.start(ctx); err != nil {
		n.Close()
		return nil, fmt.Errorf("testnet: bench: %w", err)
	}
	return d, nil
}

func (d *DMTPBench) start(ctx context.Context) error {
	var err error
	if d.A, err = d.startNode("a.test"); err != nil {
		return err
	}
	if d.B, err = d.startNode("b.test"); err != nil {
		return err
	}
	if d.Alice, err = d.A.NewUser(ctx, "alice@a.test"); err != nil {
		return err
	}
	if d.Bob, err = d.B.NewUser(ctx, "bob@b.test"); err != nil {
		return err
	}
	if d.aOrg, err = d.A.OrgSignet(); err != nil {
		return err
	}
	d.bOrg, err = d.B.OrgSignet()
	return err
}

// startNode adds the provider of domain with its default configuration
// (as `umbra server init` writes it) and starts it in-process.
func (d *DMTPBench) startNode(domain string) (*Node, error) {
	nd, err := d.Net.AddProvider(domain)
	if err != nil {
		return nil, err
	}
	return nd, nd.Start(nil)
}

// Close stops the network.
func (d *DMTPBench) Close() { d.Net.Close() }

// BenchMIME is message i of a run: RFC 5322 headers and a text body of
// exactly size bytes, random base64 in 76-column lines, so that no two
// messages are alike.
func BenchMIME(i, size int) []byte {
	raw := make([]byte, size*3/4+3)
	rand.Read(raw)
	text := base64.StdEncoding.EncodeToString(raw)
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: benchmark message %d\r\n"+
		"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d.bench@a.test>\r\nContent-Type: text/plain\r\n\r\n", i, i)
	body := b.Len()
	for b.Len()-body < size {
		line := text[:min(76, len(text))]
		text = text[len(line):]
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()[:body+size]
}

// Sealed returns n messages of a size-byte body sealed by alice to bob,
// sealed on every CPU at once.
func (d *DMTPBench) Sealed(size, n int) ([][]byte, error) {
	out := make([][]byte, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				out[i], errs[i] = Seal(d.Alice, d.A, d.Bob, d.B, BenchMIME(i, size))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("testnet: bench: seal: %w", err)
	}
	return out, nil
}

// OriginSigned returns the messages with a.test's origin signature, as
// a.test's relay would send them.
func (d *DMTPBench) OriginSigned(msgs [][]byte) ([][]byte, error) {
	out := make([][]byte, len(msgs))
	sok := d.A.Provider.Org().SOK
	for i, m := range msgs {
		var b bytes.Buffer
		b.Grow(len(m) + 128)
		if err := dmime.SignOrigin(&b, bytes.NewReader(m), sok); err != nil {
			return nil, fmt.Errorf("testnet: bench: origin signature: %w", err)
		}
		out[i] = b.Bytes()
	}
	return out, nil
}

// Send delivers origin-signed messages to b.test over senders DMTP
// connections, each message one transaction (MAIL a.test, RCPT b.test,
// DATA), and times each from MAIL to the 250 after DATA, which b.test
// sends only once the message is durable (DESIGN §6). Connecting, TLS and
// EHLO happen before the clock starts, and so does one MAIL that makes
// b.test validate a.test (DNS and SGNT), which it then caches.
func (d *DMTPBench) Send(ctx context.Context, msgs [][]byte, senders int, progress io.Writer) (Rate, error) {
	if len(msgs) == 0 || senders < 1 {
		return Rate{}, fmt.Errorf("testnet: bench: %d messages, %d senders", len(msgs), senders)
	}
	conns := make([]*dmtp.Client, 0, senders)
	defer func() {
		for _, cl := range conns {
			cl.Quit()
		}
	}()
	for range min(senders, len(msgs)) {
		cl, err := dmtp.Dial(ctx, d.B.DMTP, dmtp.PinnedConfig(d.B.Record.TLSPin, "127.0.0.1"))
		if err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: %w", err)
		}
		conns = append(conns, cl)
		if err := cl.Hello(d.A.Domain); err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: %w", err)
		}
	}
	if err := conns[0].Mail(d.A.Domain, d.aOrg.Fingerprint()); err != nil {
		return Rate{}, fmt.Errorf("testnet: bench: warm-up MAIL: %w", err)
	}
	if err := conns[0].Reset(); err != nil {
		return Rate{}, fmt.Errorf("testnet: bench: warm-up RSET: %w", err)
	}
	lat := make([]time.Duration, len(msgs))
	run := newRun(ctx, len(msgs), progress, "sent over DMTP")
	for _, cl := range conns {
		run.worker(func(i int) error {
			t0 := time.Now()
			err := d.sendOne(cl, msgs[i])
			lat[i] = time.Since(t0)
			return err
		})
	}
	elapsed, err := run.wait()
	if err != nil {
		return Rate{}, err
	}
	return newRate(lat, elapsed, totalBytes(msgs), 0), nil
}

// OpenCeiling checks origin-signed messages as b.test must on arrival
// (open its keyslot: one HPKE decapsulation; verify the origin signature:
// one Ed25519 verification, under the one key that made it; parse and
// decrypt the destination chunk), on every CPU at once with nothing else
// running: the most messages per second the destination's cryptography
// allows on this machine, however fast its disk.
func (d *DMTPBench) OpenCeiling(ctx context.Context, msgs [][]byte) (Rate, error) {
	if len(msgs) == 0 {
		return Rate{}, errors.New("testnet: bench: no messages to open")
	}
	enc := d.B.Provider.Org().Enc
	keys := []ed25519.PublicKey{d.A.Provider.Org().SOK.Public().(ed25519.PublicKey)}
	lat := make([]time.Duration, len(msgs))
	run := newRun(ctx, len(msgs), nil, "")
	for range runtime.GOMAXPROCS(0) {
		run.worker(func(i int) error {
			t0 := time.Now()
			_, err := dmime.Open(bytes.NewReader(msgs[i]), dmime.RoleDestination, enc, dmime.OpenOptions{OriginKeys: keys})
			lat[i] = time.Since(t0)
			if err != nil {
				return fmt.Errorf("testnet: bench: open message %d: %w", i, err)
			}
			return nil
		})
	}
	elapsed, err := run.wait()
	if err != nil {
		return Rate{}, err
	}
	return newRate(lat, elapsed, totalBytes(msgs), 0), nil
}

func (d *DMTPBench) sendOne(cl *dmtp.Client, msg []byte) error {
	if err := cl.Mail(d.A.Domain, d.aOrg.Fingerprint()); err != nil {
		return fmt.Errorf("testnet: bench: MAIL: %w", err)
	}
	if err := cl.Rcpt(d.B.Domain, d.bOrg.Fingerprint()); err != nil {
		return fmt.Errorf("testnet: bench: RCPT: %w", err)
	}
	if err := cl.Data(bytes.NewReader(msg), int64(len(msg))); err != nil {
		return fmt.Errorf("testnet: bench: DATA: %w", err)
	}
	return nil
}

// Mailbox counts bob's live mail documents at b.test and returns the
// last sequence number of his change feed.
func (d *DMTPBench) Mailbox(ctx context.Context) (count int, last int64, err error) {
	mb := d.B.Provider.Store().Mailbox()
	for {
		page, err := mb.Changes(ctx, d.Bob.Address, last, store.MaxPage)
		if err != nil {
			return 0, 0, fmt.Errorf("testnet: bench: bob's changes: %w", err)
		}
		for _, c := range page {
			last = c.Seq
			if c.Kind == store.KindMail && !c.Deleted {
				count++
			}
		}
		if len(page) < store.MaxPage {
			return count, last, nil
		}
	}
}

// stallTimeout is how long Relay waits for the next message to arrive at
// b.test before it declares the queue stuck.
const stallTimeout = time.Minute

// Relay submits sealed messages at a.test as alice, from senders
// goroutines, and times each from the call to Submit until it is stored in
// bob's mailbox at b.test: a.test's checks and origin signature, its
// durable queue, its relay workers (QueueWorkers, default 4), DMTP and
// b.test's durable store. Arrivals are seen by polling bob's change feed
// every 2 ms, which adds up to that much to each latency.
func (d *DMTPBench) Relay(ctx context.Context, sealed [][]byte, senders int, progress io.Writer) (Rate, error) {
	if len(sealed) == 0 || senders < 1 {
		return Rate{}, fmt.Errorf("testnet: bench: %d messages, %d senders", len(sealed), senders)
	}
	want := make(map[[32]byte]int, len(sealed))
	for i, m := range sealed {
		l, err := dmime.Inspect(bytes.NewReader(m))
		if err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: message %d: %w", i, err)
		}
		want[l.Digest] = i
	}
	_, since, err := d.Mailbox(ctx)
	if err != nil {
		return Rate{}, err
	}
	starts := make([]time.Time, len(sealed))
	arrived := make([]time.Time, len(sealed))
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watched := make(chan error, 1)
	go func() { watched <- d.watch(wctx, since, want, arrived) }()
	run := newRun(ctx, len(sealed), progress, "submitted at a.test")
	for range senders {
		run.worker(func(i int) error {
			starts[i] = time.Now()
			if _, err := d.A.Provider.Submit(run.ctx, d.Alice.Address, sealed[i]); err != nil {
				return fmt.Errorf("testnet: bench: submit: %w", err)
			}
			return nil
		})
	}
	if _, err := run.wait(); err != nil {
		stopWatch()
		<-watched
		return Rate{}, err
	}
	if err := <-watched; err != nil {
		return Rate{}, err
	}
	lat := make([]time.Duration, len(sealed))
	last := run.start
	for i := range lat {
		lat[i] = arrived[i].Sub(starts[i])
		if arrived[i].After(last) {
			last = arrived[i]
		}
	}
	return newRate(lat, last.Sub(run.start), totalBytes(sealed), 0), nil
}

// watch follows bob's change feed from since and records when each
// message of want (by D/MIME digest) arrives, until all have.
func (d *DMTPBench) watch(ctx context.Context, since int64, want map[[32]byte]int, arrived []time.Time) error {
	mb := d.B.Provider.Store().Mailbox()
	seen, lastNew := 0, time.Now()
	for seen < len(want) {
		page, err := mb.Changes(ctx, d.Bob.Address, since, store.MaxPage)
		now := time.Now()
		if err != nil {
			return fmt.Errorf("testnet: bench: bob's changes: %w", err)
		}
		for _, c := range page {
			since = c.Seq
			if c.Kind != store.KindMail || c.Deleted {
				continue
			}
			doc, err := mb.Get(ctx, d.Bob.Address, c.DocID)
			if err != nil {
				return fmt.Errorf("testnet: bench: bob's document %s: %w", c.DocID, err)
			}
			l, err := dmime.Inspect(bytes.NewReader(doc.Data))
			if err != nil {
				return fmt.Errorf("testnet: bench: bob's document %s: %w", c.DocID, err)
			}
			if i, ok := want[l.Digest]; ok && arrived[i].IsZero() {
				arrived[i], lastNew = now, now
				seen++
			}
		}
		if len(page) == store.MaxPage {
			continue
		}
		if time.Since(lastNew) > stallTimeout {
			return fmt.Errorf("testnet: bench: %d of %d submitted messages stored at b.test and none more for %v: a.test's queue is stuck",
				seen, len(want), stallTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// Rate is one measured run of N messages (or ceiling records).
type Rate struct {
	N             int
	Bytes         int64         // of all N
	Elapsed       time.Duration // from the first start to the last finish
	P50, P99, Max time.Duration // per-message latency (nearest rank)
	PerCommit     float64       // messages per write+fsync; 0 where not known
}

// PerSecond is messages per second.
func (r Rate) PerSecond() float64 { return float64(r.N) / r.Elapsed.Seconds() }

// MBPerSecond is 10⁶ bytes per second.
func (r Rate) MBPerSecond() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

func newRate(lat []time.Duration, elapsed time.Duration, bytes int64, perCommit float64) Rate {
	s := slices.Clone(lat)
	slices.Sort(s)
	rank := func(p float64) time.Duration { return s[max(0, int(math.Ceil(p*float64(len(s))))-1)] }
	return Rate{N: len(s), Bytes: bytes, Elapsed: elapsed, P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1], PerCommit: perCommit}
}

// FsyncCeiling writes n records of size bytes to a new file in dir, each
// followed by fsync: the most messages per second a store that makes each
// acknowledgement durable on its own can reach on that disk. The file is
// appended to, as a WAL is, and removed afterwards.
func FsyncCeiling(ctx context.Context, dir string, size, n int) (Rate, error) {
	f, done, err := ceilingFile(dir, size, n, 1)
	if err != nil {
		return Rate{}, err
	}
	defer done()
	rec := make([]byte, size)
	rand.Read(rec)
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := range lat {
		if err := ctx.Err(); err != nil {
			return Rate{}, err
		}
		t0 := time.Now()
		if _, err := f.Write(rec); err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: ceiling: %w", err)
		}
		if err := f.Sync(); err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: ceiling: %w", err)
		}
		lat[i] = time.Since(t0)
	}
	return newRate(lat, time.Since(start), int64(size)*int64(n), 1), nil
}

// GroupCommitCeiling has writers goroutines hand n records of size bytes
// to one committer, which writes everything queued when its previous
// fsync returned in one write, fsyncs once and answers them all: the
// batching the SQLite store's writer does, without a database. Latency is
// from handing a record over to its answer.
func GroupCommitCeiling(ctx context.Context, dir string, size, n, writers int) (Rate, error) {
	f, done, err := ceilingFile(dir, size, n, writers)
	if err != nil {
		return Rate{}, err
	}
	defer done()
	rec := make([]byte, size)
	rand.Read(rec)
	reqs := make(chan chan error, writers)
	commits := 0
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		buf := make([]byte, 0, size*writers)
		var batch []chan error
		for first := range reqs {
			batch = append(batch[:0], first)
		drain:
			for {
				select {
				case r, ok := <-reqs:
					if !ok {
						break drain
					}
					batch = append(batch, r)
				default:
					break drain
				}
			}
			buf = buf[:0]
			for range batch {
				buf = append(buf, rec...)
			}
			_, err := f.Write(buf)
			if err == nil {
				err = f.Sync()
			}
			commits++
			for _, r := range batch {
				r <- err
			}
		}
	}()
	lat := make([]time.Duration, n)
	run := newRun(ctx, n, nil, "")
	for range writers {
		run.worker(func(i int) error {
			answer := make(chan error, 1)
			t0 := time.Now()
			reqs <- answer
			err := <-answer
			lat[i] = time.Since(t0)
			if err != nil {
				return fmt.Errorf("testnet: bench: ceiling: %w", err)
			}
			return nil
		})
	}
	elapsed, err := run.wait()
	close(reqs)
	<-committed
	if err != nil {
		return Rate{}, err
	}
	return newRate(lat, elapsed, int64(size)*int64(n), float64(n)/float64(commits)), nil
}

// ceilingFile creates a file for a ceiling run in dir and returns it with
// the function that closes and removes it.
func ceilingFile(dir string, size, n, writers int) (*os.File, func(), error) {
	if size < 1 || n < 1 || writers < 1 {
		return nil, nil, fmt.Errorf("testnet: bench: ceiling of %d records of %d bytes, %d writers", n, size, writers)
	}
	f, err := os.CreateTemp(dir, "ceiling-")
	if err != nil {
		return nil, nil, fmt.Errorf("testnet: bench: ceiling: %w", err)
	}
	return f, func() { f.Close(); os.Remove(f.Name()) }, nil
}

// run hands message indices 0..n-1 to workers, stops them all at the
// first error or when its context ends, and reports progress every second.
type run struct {
	ctx    context.Context
	cancel context.CancelFunc
	n      int
	start  time.Time
	next   atomic.Int64
	done   atomic.Int64
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // the first worker's error

	stopProgress func()
}

func newRun(ctx context.Context, n int, progress io.Writer, label string) *run {
	r := &run{n: n, start: time.Now(), stopProgress: func() {}}
	r.ctx, r.cancel = context.WithCancel(ctx)
	if progress != nil {
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					say(progress, "%s: %d/%d", label, r.done.Load(), n)
				}
			}
		}()
		r.stopProgress = func() { close(stop); <-stopped }
	}
	return r
}

// worker starts a goroutine that runs op on the next index until none is
// left.
func (r *run) worker(op func(i int) error) {
	r.wg.Go(func() {
		for r.ctx.Err() == nil {
			i := int(r.next.Add(1) - 1)
			if i >= r.n {
				return
			}
			if err := op(i); err != nil {
				r.mu.Lock()
				if r.err == nil {
					r.err = err
				}
				r.mu.Unlock()
				r.cancel()
				return
			}
			r.done.Add(1)
		}
	})
}

// wait waits for the workers and returns the time since the run started.
func (r *run) wait() (time.Duration, error) {
	r.wg.Wait()
	elapsed := time.Since(r.start)
	r.stopProgress()
	r.cancel()
	if r.err != nil {
		return 0, r.err
	}
	if int(r.done.Load()) < r.n {
		return 0, fmt.Errorf("testnet: bench: stopped after %d of %d: %w", r.done.Load(), r.n, context.Cause(r.ctx))
	}
	return elapsed, nil
}

func totalBytes(msgs [][]byte) int64 {
	var n int64
	for _, m := range msgs {
		n += int64(len(m))
	}
	return n
}

// say writes one progress line, if there is a writer.
func say(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "bench: "+format+"\n", args...)
	}
}
