package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"umbra/provider/store"
)

// benchWriteSizes: a small document or message, one at the largest
// PostgreSQL stores from memory (MaxDeliverBuffer), one past it and a
// large one.
var benchWriteSizes = []int{4 << 10, store.MaxDeliverBuffer, 4 << 20, 32 << 20}

// BenchmarkPut replaces one document of each size over and over, by one
// writer: what a DMAP client's upload costs the store. Each backend's
// BenchmarkPut calls it.
func BenchmarkPut(b *testing.B, s store.Store) {
	ctx, m := b.Context(), s.Mailbox()
	addr := "bench@example.test"
	active(b, s, addr)
	revs := map[string]int64{} // the documents' revisions, across runs
	for _, size := range benchWriteSizes {
		data := content(size, 5)
		docID := fmt.Sprintf("doc%d", size)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			rev := revs[docID]
			defer func() { revs[docID] = rev }()
			for b.Loop() {
				c, err := benchPut(ctx, m, addr, docID, rev, data)
				if err != nil {
					b.Fatal(err)
				}
				rev = c.Revision
			}
		})
	}
}

// BenchmarkEnqueue queues messages of each size, by one writer. Each
// backend's BenchmarkEnqueue calls it.
func BenchmarkEnqueue(b *testing.B, s store.Store) {
	ctx, q := b.Context(), s.Queue()
	i := 0 // each message new, across runs
	for _, size := range benchWriteSizes {
		data := content(size, 6)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				i++
				if _, _, err := benchEnqueue(ctx, q, messageID(fmt.Sprint("bench ", size, " ", i)), data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchPut(ctx context.Context, m store.Mailbox, addr, docID string, rev int64, data []byte) (store.Change, error) {
	return m.Put(ctx, addr, docID, "blob", rev, bytes.NewReader(data), int64(len(data)))
}

func benchEnqueue(ctx context.Context, q store.Queue, id store.MessageID, data []byte) (int64, bool, error) {
	return q.Enqueue(ctx, store.Outbound{MessageID: id, Domain: "example.org", Message: bytes.NewReader(data), Size: int64(len(data))})
}
