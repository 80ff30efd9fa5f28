package postgres

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"umbra/provider/store"
)

// BenchmarkDeliver is the SQLite store's benchmark of the same name
// (durable deliveries of 4 and 50 KiB by 1 and 16 writers), against the
// test cluster: PostgreSQL on this machine, fsync on, over TCP on
// loopback. docs/benchmarks.md compares the two.
//
//	go test -run '^$' -bench Deliver ./provider/store/postgres ./provider/store/sqlite
func BenchmarkDeliver(b *testing.B) {
	for _, size := range []int{4 << 10, 50 << 10} {
		for _, writers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%dKB/writers=%d", size>>10, writers), func(b *testing.B) {
				s := openTest(b, cluster.NewDatabase(b))
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
				var n atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for range writers {
					wg.Go(func() {
						for i := n.Add(1); i <= int64(b.N); i = n.Add(1) {
							var id store.MessageID
							binary.BigEndian.PutUint64(id[:], uint64(i))
							if _, _, err := s.Mailbox().Deliver(b.Context(), addr, id, data); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			})
		}
	}
}
