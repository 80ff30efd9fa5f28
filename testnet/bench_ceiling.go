package testnet

// The ceilings the DMTP benchmark is compared with: one write+fsync per
// message, and group commit; plus the timing and CPU helpers shared by
// every run (see bench.go).

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rate is one measured run of N messages (or ceiling records).
type Rate struct {
	N             int
	Bytes         int64         // of all N
	Elapsed       time.Duration // from the first start to the last finish
	P50, P99, Max time.Duration // per-message latency (nearest rank)
	PerCommit     float64       // messages per write+fsync; 0 where not known
	// CPU is the CPU time, user and system, the whole process (both
	// providers and the senders) spent per message during the run; 0
	// where the system does not say (processCPU).
	CPU time.Duration
}

// PerSecond is messages per second.
func (r Rate) PerSecond() float64 { return float64(r.N) / r.Elapsed.Seconds() }

// MBPerSecond is 10⁶ bytes per second.
func (r Rate) MBPerSecond() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

// NewRate is the Rate of len(lat) operations of latencies lat that took elapsed
// and moved bytes, perCommit operations to a commit.
func NewRate(lat []time.Duration, elapsed time.Duration, bytes int64, perCommit float64) Rate {
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
	return NewRate(lat, time.Since(start), int64(size)*int64(n), 1), nil
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
	err = run.wait()
	close(reqs)
	<-committed
	if err != nil {
		return Rate{}, err
	}
	return run.rate(lat, int64(size)*int64(n), float64(n)/float64(commits)), nil
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

	cpu0    time.Duration // process CPU time at the start; -1 if unknown
	elapsed time.Duration // set by wait
	cpu     time.Duration // process CPU time used, set by wait; 0 if unknown
}

func newRun(ctx context.Context, n int, progress io.Writer, label string) *run {
	r := &run{n: n, start: time.Now(), stopProgress: func() {}, cpu0: processCPU()}
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

// wait waits for the workers and records the time and CPU they took.
func (r *run) wait() error {
	r.wg.Wait()
	r.elapsed, r.cpu = time.Since(r.start), r.cpuSince()
	r.stopProgress()
	r.cancel()
	if r.err != nil {
		return r.err
	}
	if int(r.done.Load()) < r.n {
		return fmt.Errorf("testnet: bench: stopped after %d of %d: %w", r.done.Load(), r.n, context.Cause(r.ctx))
	}
	return nil
}

// cpuSince is the process CPU time used since the run started; 0 if
// unknown.
func (r *run) cpuSince() time.Duration {
	now := processCPU()
	if r.cpu0 < 0 || now < 0 {
		return 0
	}
	return now - r.cpu0
}

// rate is the Rate of a finished run whose messages took lat.
func (r *run) rate(lat []time.Duration, bytes int64, perCommit float64) Rate {
	x := NewRate(lat, r.elapsed, bytes, perCommit)
	x.CPU = r.cpu / time.Duration(len(lat))
	return x
}

// processCPU is the CPU time this process has used, user and system, or
// -1 where /proc/self/stat does not say (systems other than Linux).
// Unlike wall time it barely moves when other work shares the machine.
func processCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	d, err := parseProcStatCPU(b)
	if err != nil {
		return -1
	}
	return d
}

// userHZ is the unit of the times in /proc/[pid]/stat: USER_HZ, which
// the kernel fixes at 100 for user space on every architecture Go runs
// on (proc_pid_stat(5), sysconf _SC_CLK_TCK).
const userHZ = 100

// parseProcStatCPU returns utime + stime, fields 14 and 15 of a
// /proc/[pid]/stat line. Field 2, the command, is in parentheses and may
// itself contain spaces and parentheses, so the fields are counted from
// the last ')'.
func parseProcStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("testnet: /proc/self/stat: no command field")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("testnet: /proc/self/stat: %d fields after the command, want at least 13", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		// 2³² ticks is over a year of CPU; more would overflow a Duration.
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("testnet: /proc/self/stat: CPU time %.20q: %w", s, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
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
