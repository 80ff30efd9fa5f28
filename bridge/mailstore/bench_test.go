package mailstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"umbra/testnet"
)

func benchmarkAdd(b *testing.B, size int) {
	s, _ := openTest(b)
	ctx := context.Background()
	line := "The quick brown fox jumps over the lazy dog, again and again. 0123456789\r\n"
	body := strings.Repeat(line, size/len(line)+1)[:size]
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		mime := mimeMsg(fmt.Sprint("message ", i), fmt.Sprint(i, body))
		if _, _, err := s.Add(ctx, NewMessage{Key: fmt.Sprint(i), Mailbox: Inbox, MIME: mime}, Remote); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdd measures one Add: parse, index and one durable commit
// (synchronous=FULL: an fsync per Add).
func BenchmarkAdd(b *testing.B) {
	b.Run("4KB", func(b *testing.B) { benchmarkAdd(b, 4<<10) })
	b.Run("50KB", func(b *testing.B) { benchmarkAdd(b, 50<<10) })
}

// fill10000 fills INBOX with 10,000 messages of body in one transaction:
// the benchmarks using it are about reading.
func fill10000(b *testing.B, s *Store, body string) {
	b.Helper()
	err := s.write(context.Background(), func(c *conn) ([]Event, error) {
		box, err := mailboxByName(c, Inbox)
		if err != nil {
			return nil, err
		}
		for i := range 10000 {
			mime := mimeMsg(fmt.Sprint("message ", i), fmt.Sprint(i, " ", body))
			h, body := splitHeader(mime)
			cid, err := putContent(c, []byte(fmt.Sprintf("%032d", i)), h, body, extractText(mime))
			if err != nil {
				return nil, err
			}
			if _, _, err := insertMessage(c, newRow{key: fmt.Sprint(i), mailbox: box, contentID: cid,
				flags: []string{`\Seen`}, date: 1, size: int64(len(mime))}, Remote); err != nil {
				return nil, err
			}
		}
		return nil, flushIndex(c)
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkList10000 lists a mailbox of 10,000 messages.
func BenchmarkList10000(b *testing.B) {
	s, _ := openTest(b)
	fill10000(b, s, "body")
	id := mailbox(b, s, Inbox).ID
	b.ResetTimer()
	for b.Loop() {
		ms, err := s.List(context.Background(), id)
		if err != nil || len(ms) != 10000 {
			b.Fatalf("List: %d, %v", len(ms), err)
		}
	}
}

// BenchmarkSearchBody10000 is SEARCH BODY, a case-insensitive substring
// scan of the decoded text (schema notes), over 10,000 messages of 4 KB.
func BenchmarkSearchBody10000(b *testing.B) {
	s, _ := openTest(b)
	line := "The quick brown fox jumps over the lazy dog, again and again. 0123456789\r\n"
	fill10000(b, s, strings.Repeat(line, 4<<10/len(line)))
	id := mailbox(b, s, Inbox).ID
	b.ResetTimer()
	for b.Loop() {
		uids, err := s.Search(context.Background(), id, FieldBody, "AZY DO")
		if err != nil || len(uids) != 10000 {
			b.Fatalf("Search: %d, %v", len(uids), err)
		}
	}
}

// BenchmarkCommitBatch measures the sync engine's write path: batches of
// 256 messages in the bench mix (35% 4 KB, 62% 50 KB, 3% 500 KB), one
// durable commit each, into a store that grows as it goes; with the
// store's layout and, in the same run, with SQLite's defaults (4 KiB pages,
// checkpoints inside the writer's commits).
func BenchmarkCommitBatch(b *testing.B) {
	b.Run("sqlite-defaults", func(b *testing.B) { benchmarkCommitBatch(b, layout{pageSize: 4096}) })
	b.Run("umbra", func(b *testing.B) { benchmarkCommitBatch(b, defaultLayout) })
}

func benchmarkCommitBatch(b *testing.B, l layout) {
	s, err := open(filepath.Join(b.TempDir(), "mail.db"), testKey, l)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const per = 256
	msgs := make([][]byte, 100)
	var total int
	for i := range msgs {
		msgs[i] = testnet.MailMIME(i, testnet.MixSize(i))
		total += len(msgs[i])
	}
	b.SetBytes(int64(total * per / len(msgs)))
	n := 0
	for b.Loop() {
		batch := new(Batch)
		for range per {
			// A header of its own: identical content would be stored once.
			mime := append([]byte(fmt.Sprintf("X-N: %d\r\n", n)), msgs[n%len(msgs)]...)
			if err := batch.Add(NewMessage{Key: fmt.Sprint(n), Mailbox: Inbox, MIME: mime}, Remote); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := s.Commit(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
