package sqlite

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/storetest"
)

// The durable-write benchmarks (docs/spec/store.md §7). BenchmarkDeliver measures
// the store; the two ceilings measure, on the same disk in the same run,
// what any design could reach: one write+fsync per message
// (BenchmarkFsyncCeiling) and, for 16 writers, one write+fsync per batch
// with no database at all (BenchmarkGroupCommitCeiling).
//
//	go test -run '^$' -bench . ./provider/store/sqlite

var (
	benchSizes   = []int{4 << 10, 50 << 10}
	benchWriters = []int{1, 16}
)

func BenchmarkDeliver(b *testing.B) {
	for _, size := range benchSizes {
		for _, writers := range benchWriters {
			b.Run(fmt.Sprintf("%dKB/writers=%d", size>>10, writers), func(b *testing.B) {
				s := openTest(b, b.TempDir())
				const addr = "bench@example.test"
				code := sha256.Sum256([]byte("bench"))
				if err := s.Accounts().AddInvited(b.Context(), addr, code); err != nil {
					b.Fatal(err)
				}
				if err := s.Accounts().Activate(b.Context(), addr, code, store.ModeParanoid); err != nil {
					b.Fatal(err)
				}
				data := make([]byte, size)
				rand.Read(data)
				b.SetBytes(int64(size))
				commits := s.w.commits.Load()
				var n atomic.Int64
				b.ResetTimer()
				parallel(b, writers, func() bool {
					i := n.Add(1)
					if i > int64(b.N) {
						return false
					}
					var id store.MessageID
					binary.BigEndian.PutUint64(id[:], uint64(i))
					if _, _, err := s.Mailbox().Deliver(b.Context(), addr, id, bytes.NewReader(data), int64(size), time.Now()); err != nil {
						b.Error(err)
						return false
					}
					return true
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/float64(s.w.commits.Load()-commits), "msgs/commit")
			})
		}
	}
}

// parallel runs op on writers goroutines until it returns false.
func parallel(b *testing.B, writers int, op func() bool) {
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for op() {
			}
		})
	}
	wg.Wait()
}

func benchFile(b *testing.B) *os.File {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "ceiling"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// BenchmarkFsyncCeiling appends one message and fsyncs, per message: the
// most a store that syncs every acknowledgement on its own can do.
func BenchmarkFsyncCeiling(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			f := benchFile(b)
			data := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := f.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGroupCommitCeiling: 16 goroutines hand messages to one writer
// that appends everything queued in one write, fsyncs once and answers
// them all — the same batching as the store's writer, without SQLite.
func BenchmarkGroupCommitCeiling(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dKB/writers=16", size>>10), func(b *testing.B) {
			f := benchFile(b)
			data := make([]byte, size)
			b.SetBytes(int64(size))
			type req struct{ done chan error }
			reqs := make(chan req, queueSize)
			var commits atomic.Int64
			go func() {
				var buf []byte
				for first := range reqs {
					batch := []req{first}
				collect:
					for len(batch) < maxBatch {
						select {
						case r := <-reqs:
							batch = append(batch, r)
						default:
							break collect
						}
					}
					buf = buf[:0]
					for range batch {
						buf = append(buf, data...)
					}
					_, err := f.Write(buf)
					if err == nil {
						err = f.Sync()
					}
					commits.Add(1)
					for _, r := range batch {
						r.done <- err
					}
				}
			}()
			defer close(reqs)
			var n atomic.Int64
			b.ResetTimer()
			parallel(b, 16, func() bool {
				if n.Add(1) > int64(b.N) {
					return false
				}
				r := req{done: make(chan error, 1)}
				reqs <- r
				if err := <-r.done; err != nil {
					b.Error(err)
					return false
				}
				return true
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/float64(commits.Load()), "msgs/commit")
		})
	}
}

// BenchmarkPut and BenchmarkEnqueue write documents and messages of 4 KiB
// to 32 MiB, streamed (storetest.BenchmarkPut).
func BenchmarkPut(b *testing.B) { storetest.BenchmarkPut(b, openTest(b, b.TempDir())) }

func BenchmarkEnqueue(b *testing.B) { storetest.BenchmarkEnqueue(b, openTest(b, b.TempDir())) }
