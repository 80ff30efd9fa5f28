package postgres

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/storetest"
)

// BenchmarkDeliver is the SQLite store's benchmark of the same name
// (durable deliveries of 4 and 50 KiB by 1 and 16 writers to one
// account), against the test cluster: PostgreSQL on this machine, fsync
// on, over TCP on loopback; plus 16 writers to 16 accounts, since one
// account's deliveries commit one at a time here (doc.go).
// docs/benchmarks.md compares the two stores.
//
//	go test -p 1 -run '^$' -bench Deliver ./provider/store/sqlite ./provider/store/postgres
func BenchmarkDeliver(b *testing.B) {
	for _, size := range []int{4 << 10, 50 << 10} {
		for _, c := range []struct{ writers, accounts int }{{1, 1}, {16, 1}, {16, 16}} {
			name := fmt.Sprintf("%dKB/writers=%d", size>>10, c.writers)
			if c.accounts > 1 {
				name += fmt.Sprintf("/accounts=%d", c.accounts)
			}
			b.Run(name, func(b *testing.B) { benchDeliver(b, size, c.writers, c.accounts) })
		}
	}
}

func benchDeliver(b *testing.B, size, writers, accounts int) {
	s := openTest(b, cluster.NewDatabase(b))
	var addrs []string
	for a := range accounts {
		addr := fmt.Sprintf("bench%d@example.test", a)
		code := sha256.Sum256([]byte(addr))
		if err := s.Accounts().AddInvited(b.Context(), addr, code); err != nil {
			b.Fatal(err)
		}
		if err := s.Accounts().Activate(b.Context(), addr, code, store.ModeParanoid); err != nil {
			b.Fatal(err)
		}
		addrs = append(addrs, addr)
	}
	data := make([]byte, size)
	rand.Read(data)
	b.SetBytes(int64(size))
	var n atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		addr := addrs[w%accounts]
		wg.Go(func() {
			for i := n.Add(1); i <= int64(b.N); i = n.Add(1) {
				var id store.MessageID
				binary.BigEndian.PutUint64(id[:], uint64(i))
				if _, _, err := s.Mailbox().Deliver(b.Context(), addr, id, bytes.NewReader(data), int64(size), time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkPut and BenchmarkEnqueue write documents and messages of 4 KiB
// to 32 MiB (storetest.BenchmarkPut): from memory up to 1 MiB, by COPY
// beyond.
func BenchmarkPut(b *testing.B) { storetest.BenchmarkPut(b, openTest(b, cluster.NewDatabase(b))) }

func BenchmarkEnqueue(b *testing.B) {
	storetest.BenchmarkEnqueue(b, openTest(b, cluster.NewDatabase(b)))
}
