package mailstore

import (
	"context"
	"fmt"
	"os"
	"testing"

	"umbra/testnet"
)

// TestWALStaysBounded commits batch after batch, back to back, as an
// initial sync does: the checkpointer runs beside the writer, and the WAL
// must still start over rather than grow with everything written.
func TestWALStaysBounded(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	ctx := context.Background()
	body := testnet.MailMIME(1, 500<<10)
	var largest int64
	const batches, per = 60, 8 // 240 MB in all
	for i := range batches {
		b := new(Batch)
		for j := range per {
			mime := append([]byte(fmt.Sprintf("X-N: %d\r\n", i*per+j)), body...)
			if err := b.Add(NewMessage{Key: fmt.Sprint(i*per + j), Mailbox: Inbox, MIME: mime}, Remote); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, fi.Size())
		}
	}
	t.Logf("largest WAL %.1f MB after %d commits of %.1f MB", float64(largest)/1e6, batches, float64(per*len(body))/1e6)
	if limit := int64(checkpointBehind+checkpointPages) * int64(defaultLayout.pageSize+24); largest > limit {
		t.Errorf("the WAL grew to %d bytes, beyond %d", largest, limit)
	}
}
