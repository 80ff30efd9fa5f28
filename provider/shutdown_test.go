package provider_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"umbra/dmime"
	"umbra/dmtp"
	"umbra/provider/store"
	"umbra/testnet"
)

// TestSIGTERMDuringDeliveries: b.test runs as a child process and takes
// deliveries from 16 concurrent DMTP connections when it gets SIGTERM. It
// exits cleanly (status 0) and every message it acknowledged (250
// to DATA) is in bob's mailbox, exactly once (issue 11: Shutdown waits for
// what it started; the store closes after the last delivery).
func TestSIGTERMDuringDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("streams deliveries into a child process")
	}
	t.Parallel()
	w := newWorld(t)
	w.b.Stop()
	b := startChild(t, w.b)
	w.b.Provider = nil
	org := w.a.Provider.Org()

	// Messages sealed and origin-signed ahead, so the senders only send.
	const senders, each = 16, 40
	msgs := make([][][]byte, senders)
	for s := range senders {
		for i := range each {
			sealed, err := testnet.Seal(w.alice, w.a, w.bob, w.b, mimeMessage(fmt.Sprintf("sender %d message %d", s, i), "body"))
			if err != nil {
				t.Fatal(err)
			}
			var signed bytes.Buffer
			if err := dmime.SignOrigin(&signed, bytes.NewReader(sealed), org.SOK); err != nil {
				t.Fatal(err)
			}
			msgs[s] = append(msgs[s], signed.Bytes())
		}
	}
	bOrg, err := w.b.OrgSignet()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[store.MessageID]bool{}
	var sent atomic.Int64
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			cl, err := dmtp.Dial(context.Background(), w.b.DMTP, dmtp.PinnedConfig(w.b.Record.TLSPin, "127.0.0.1"))
			if err != nil {
				return // the server is going away
			}
			defer cl.Close()
			if cl.Hello("a.test") != nil {
				return
			}
			for _, m := range msgs[s] {
				if cl.Mail("a.test", org.Signet.Fingerprint()) != nil || cl.Rcpt("b.test", bOrg.Fingerprint()) != nil {
					return
				}
				if err := cl.Data(bytes.NewReader(m), int64(len(m))); err != nil {
					return // not acknowledged: the server may or may not have it
				}
				l, err := dmime.Inspect(bytes.NewReader(m))
				if err != nil {
					panic(err)
				}
				mu.Lock()
				acked[store.MessageID(l.Digest)] = true
				mu.Unlock()
				sent.Add(1)
			}
		})
	}
	// SIGTERM once a quarter has gone through.
	for sent.Load() < senders*each/4 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	b.stop(t) // fails unless the child exits with status 0
	took := time.Since(start)
	wg.Wait()
	stored := digests(t, w.b, w.bob.Address) // fails on a message stored twice
	for d := range acked {
		if !stored[d] {
			t.Fatalf("message %s acknowledged, then lost in the shutdown", d)
		}
	}
	t.Logf("SIGTERM after %d acknowledged; %d acknowledged in all, %d stored; exit after %v", senders*each/4, len(acked), len(stored), took)
	if len(acked) == senders*each {
		t.Fatal("every message went through: SIGTERM did not land mid-stream")
	}
}
