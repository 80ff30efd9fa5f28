package imapd

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/mailstore"
)

// BenchmarkFetchEnvelope10000 measures what a mail client does when it
// opens a large mailbox: UID FETCH 1:* (FLAGS ENVELOPE) over 10,000
// stored messages of 4 KB, through a real client over loopback.
func BenchmarkFetchEnvelope10000(b *testing.B) {
	const n = 10000
	e := start(b, nil)
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 66) // ~3.8 KB
	for i := range n {
		mime := fmt.Sprintf("From: Sender %d <sender%d@b.test>\r\nTo: Alice <alice@a.test>\r\n"+
			"Subject: Message number %d\r\nDate: Sun, 10 Mar 2024 12:00:00 +0000\r\n"+
			"Message-ID: <%d@b.test>\r\nContent-Type: text/plain\r\n\r\n%s", i, i, i, i, body)
		_, _, err := e.store.Add(context.Background(), mailstore.NewMessage{
			Key: fmt.Sprintf("bench-%d", i), Mailbox: "INBOX", MIME: []byte(mime),
		}, mailstore.Remote)
		if err != nil {
			b.Fatal(err)
		}
	}
	c := e.selectBox(b, "INBOX", nil)
	var all imap.UIDSet
	all.AddRange(1, 0)
	opts := &imap.FetchOptions{UID: true, Flags: true, Envelope: true}

	b.ReportAllocs()
	for b.Loop() {
		cmd := c.Fetch(all, opts)
		got := 0
		for m := cmd.Next(); m != nil; m = cmd.Next() {
			if _, err := m.Collect(); err != nil {
				b.Fatal(err)
			}
			got++
		}
		if err := cmd.Close(); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("fetched %d messages, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/msg")
}
