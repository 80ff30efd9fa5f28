package sqlite

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"umbra/provider/store"
)

// The login benchmarks (docs/spec/store.md §9–§11). BenchmarkAuthenticate
// is what every authenticated DMAP request costs the store: ByAccess plus
// a Touch that the last-seen coalescing turns into a read. BenchmarkRefresh
// and BenchmarkChallenge are durable writes, group-committed.
//
//	go test -run '^$' -bench 'Authenticate|Refresh|Challenge' ./provider/store/sqlite

// benchDevices opens a store with one active account and n devices, each
// with one session, and returns the store and the sessions.
func benchDevices(b *testing.B, n int) (*Store, []store.Session) {
	s := openTest(b, b.TempDir())
	ctx := b.Context()
	const addr = "bench@example.test"
	code := sha256.Sum256([]byte("bench"))
	if err := s.Accounts().AddInvited(ctx, addr, code); err != nil {
		b.Fatal(err)
	}
	if err := s.Accounts().Activate(ctx, addr, code, store.ModeParanoid); err != nil {
		b.Fatal(err)
	}
	issued := time.Unix(1.9e9, 0)
	var ss []store.Session
	for i := range n {
		key := sha256.Sum256(fmt.Appendf(nil, "key %d", i))
		d := store.Device{Account: addr, ID: fmt.Sprint("device-", i), Key: key[:], Name: "bench", Created: issued}
		if err := s.Devices().Add(ctx, d); err != nil {
			b.Fatal(err)
		}
		sess := benchSession(i, 0, issued)
		sess.Account, sess.DeviceID = addr, d.ID
		if err := s.Sessions().Create(ctx, sess); err != nil {
			b.Fatal(err)
		}
		if err := s.Devices().Touch(ctx, addr, d.ID, issued); err != nil {
			b.Fatal(err)
		}
		ss = append(ss, sess)
	}
	return s, ss
}

// benchSession is generation gen of worker w's session, without account
// and device (Refresh copies them).
func benchSession(w int, gen int64, issued time.Time) store.Session {
	var seed [16]byte
	binary.BigEndian.PutUint64(seed[:], uint64(w))
	binary.BigEndian.PutUint64(seed[8:], uint64(gen))
	return store.Session{
		Issued:     issued,
		AccessHash: sha256.Sum256(append([]byte("a"), seed[:]...)), AccessExpires: issued.Add(time.Hour),
		RefreshHash: sha256.Sum256(append([]byte("r"), seed[:]...)), RefreshExpires: issued.Add(720 * time.Hour),
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	for _, workers := range benchWriters {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s, ss := benchDevices(b, workers)
			commits := s.w.commits.Load()
			var n, next atomic.Int64
			b.ResetTimer()
			parallel(b, workers, func() bool {
				if n.Add(1) > int64(b.N) {
					return false
				}
				sess := ss[int(next.Add(1))%len(ss)]
				got, err := s.Sessions().ByAccess(b.Context(), sess.AccessHash)
				if err == nil {
					// Within the minute of the first touch: a read only.
					err = s.Devices().Touch(b.Context(), got.Account, got.DeviceID, got.Issued.Add(time.Second))
				}
				if err != nil {
					b.Error(err)
					return false
				}
				return true
			})
			b.StopTimer()
			if c := s.w.commits.Load() - commits; c != 0 {
				b.Fatalf("%d commits during authentication: Touch was not coalesced", c)
			}
		})
	}
}

func BenchmarkRefresh(b *testing.B) {
	for _, workers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", workers), func(b *testing.B) {
			s, ss := benchDevices(b, workers)
			commits := s.w.commits.Load()
			var n atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range workers {
				// Each writer refreshes its own device's session chain.
				wg.Go(func() {
					cur := ss[w]
					for gen := int64(1); n.Add(1) <= int64(b.N); gen++ {
						next, err := s.Sessions().Refresh(b.Context(), cur.RefreshHash, benchSession(w, gen, cur.Issued.Add(time.Second)))
						if err != nil {
							b.Error(err)
							return
						}
						cur = next
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/float64(s.w.commits.Load()-commits), "refreshes/commit")
		})
	}
}

func BenchmarkChallenge(b *testing.B) {
	b.Run("put+take/writers=16", func(b *testing.B) {
		s := openTest(b, b.TempDir())
		var n atomic.Int64
		b.ResetTimer()
		parallel(b, 16, func() bool {
			i := n.Add(1)
			if i > int64(b.N) {
				return false
			}
			c := store.Challenge{Purpose: "login", Address: "bench@example.test", Expires: time.Unix(1.9e9, 0)}
			binary.BigEndian.PutUint64(c.Value[:], uint64(i))
			if err := s.Challenges().Put(b.Context(), c); err != nil {
				b.Error(err)
				return false
			}
			if _, err := s.Challenges().Take(b.Context(), c.Value); err != nil {
				b.Error(err)
				return false
			}
			return true
		})
	})
}
