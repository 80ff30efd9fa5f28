package provider_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"umbra/dmime"
	"umbra/provider"
	"umbra/provider/store"
	"umbra/provider/store/sqlite"
	"umbra/testnet"
)

// child is a provider running in a re-executed test binary.
type child struct {
	cmd *exec.Cmd
	nd  *testnet.Node
}

func startChild(t *testing.T, nd *testnet.Node) *child {
	t.Helper()
	return startChildLogging(t, nd, os.Stderr)
}

// startChildLogging starts a child whose log (warnings and errors) goes
// to stderr, with env added to its environment.
func startChildLogging(t *testing.T, nd *testnet.Node, stderr io.Writer, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+nd.Dir), env...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, nd: nd}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", nd.DMTP, time.Second)
		if err == nil {
			conn.Close()
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s never listened: %v", nd.Domain, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the child with SIGKILL: no shutdown, no flush.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

// stop ends the child gracefully and checks it exited cleanly.
func (c *child) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child %s: %v", c.nd.Domain, err)
	}
}

// digests maps each mail document of address in the store under dir (the
// provider there must not be running) to the message digest it holds, and
// fails on any digest stored twice.
func digests(t *testing.T, nd *testnet.Node, address string) map[store.MessageID]bool {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(nd.Dir, provider.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[store.MessageID]bool{}
	var since int64
	for {
		page, err := st.Mailbox().Changes(context.Background(), address, since, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			since = c.Seq
			doc, err := st.Mailbox().Get(context.Background(), address, c.DocID)
			if err != nil {
				t.Fatal(err)
			}
			l, err := dmime.Inspect(bytes.NewReader(doc.Data))
			if err != nil {
				t.Fatalf("stored document %s: %v", c.DocID, err)
			}
			d := store.MessageID(l.Digest)
			if got[d] {
				t.Fatalf("message %s stored twice", d)
			}
			got[d] = true
		}
		if len(page) < 1000 {
			return got
		}
	}
}

// queued returns the digests waiting in nd's queue (store opened directly;
// the provider must not be running).
func queued(t *testing.T, nd *testnet.Node) map[store.MessageID]bool {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(nd.Dir, provider.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := st.Queue().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[store.MessageID]bool{}
	for _, e := range q {
		out[e.MessageID] = true
	}
	return out
}

// submitAll seals and submits n messages from alice to bob at a.test,
// returning their digests.
func submitAll(t *testing.T, w *world, n int) map[store.MessageID]bool {
	t.Helper()
	all := map[store.MessageID]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			msg, err := testnet.Seal(w.alice, w.a, w.bob, w.b, mimeMessage(fmt.Sprintf("message %d", i), "body"))
			if err != nil {
				errs <- err
				return
			}
			res, err := w.a.Provider.Submit(context.Background(), w.alice.Address, bytes.NewReader(msg), int64(len(msg)))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			all[res.Digest] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return all
}

// waitQueueBelow polls a's queue (in-process provider) until it holds at
// most n entries.
func waitQueueBelow(t *testing.T, nd *testnet.Node, n int) {
	t.Helper()
	waitQueueFor(t, nd, 3*time.Minute, fmt.Sprintf("at most %d entries", n), func(q []store.QueueEntry) bool { return len(q) <= n })
}

// The destination is killed with SIGKILL while durabilityMessages (2,000; fewer under -race) messages stream in.
// Every message the origin saw acknowledged (gone from its queue) is in
// bob's mailbox exactly once; after a restart the origin's queue delivers
// the rest, and each of the 2,000 is stored exactly once.
func TestDestinationKilledMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 2,000 messages through a child process")
	}
	t.Parallel()
	w := newWorld(t)
	w.b.Stop()
	b := startChild(t, w.b)
	w.b.Provider = nil
	all := submitAll(t, w, durabilityMessages)
	waitQueueBelow(t, w.a, durabilityMessages*3/4)
	b.kill(t)
	// Freeze the origin so its queue shows exactly what was acknowledged.
	w.a.Stop()
	pending := queued(t, w.a)
	acked := 0
	stored := digests(t, w.b, w.bob.Address)
	for d := range all {
		if !pending[d] {
			acked++
			if !stored[d] {
				t.Fatalf("message %s acknowledged but not stored", d)
			}
		}
	}
	t.Logf("killed after %d of %d acknowledged; %d stored (acknowledged or in flight)", acked, len(all), len(stored))
	if acked == 0 || acked == len(all) {
		t.Fatalf("kill did not land mid-stream: %d acknowledged", acked)
	}
	b = startChild(t, w.b)
	if err := w.a.Start(fastRetries); err != nil {
		t.Fatal(err)
	}
	waitQueueBelow(t, w.a, 0)
	b.stop(t)
	final := digests(t, w.b, w.bob.Address)
	if len(final) != len(all) {
		t.Fatalf("bob has %d messages, want %d", len(final), len(all))
	}
	for d := range all {
		if !final[d] {
			t.Fatalf("message %s lost", d)
		}
	}
}

// The origin is killed with SIGKILL in the middle of relaying its queue;
// restarted, it resumes at once (its own claims released) and every
// message reaches bob exactly once.
func TestOriginKilledMidQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("relays 2,000 messages from a child process")
	}
	t.Parallel()
	w := newWorld(t)
	// Fill a's queue while b is down, then serve a from a child.
	w.b.Stop()
	all := submitAll(t, w, durabilityMessages)
	w.a.Stop()
	a := startChild(t, w.a)
	if err := w.b.Start(fastRetries); err != nil {
		t.Fatal(err)
	}
	// Kill a once b holds a quarter of the messages.
	deadline := time.Now().Add(3 * time.Minute)
	for mailCount(t, w) < durabilityMessages/4 {
		if time.Now().After(deadline) {
			t.Fatalf("b holds only %d messages after 3 minutes", mailCount(t, w))
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.kill(t)
	t.Logf("origin killed with %d messages at b", mailCount(t, w))
	a = startChild(t, w.a)
	deadline = time.Now().Add(3 * time.Minute)
	for mailCount(t, w) < durabilityMessages {
		if time.Now().After(deadline) {
			t.Fatalf("b holds only %d of %d messages after restart", mailCount(t, w), durabilityMessages)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.stop(t)
	w.b.Stop()
	final := digests(t, w.b, w.bob.Address)
	if len(final) != len(all) {
		t.Fatalf("bob has %d messages, want %d", len(final), len(all))
	}
	for d := range all {
		if !final[d] {
			t.Fatalf("message %s lost", d)
		}
	}
	if q := queued(t, w.a); len(q) != 0 {
		t.Fatalf("a's queue still holds %d entries", len(q))
	}
}
