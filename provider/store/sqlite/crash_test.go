package sqlite

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"umbra/provider/store"
)

// crashEnv, when set, makes TestCrashDurability the child: it delivers
// into the store in that directory until it is killed.
const crashEnv = "UMBRA_STORE_CRASH_CHILD"

const (
	crashAddr     = "crash@example.test"
	crashAcks     = 300 // acknowledgements the parent waits for before SIGKILL
	crashWorkers  = 8
	crashChildCap = 30 * time.Second // the child gives up if nobody kills it
)

// TestCrashDurability: a child process delivers messages from several
// goroutines and prints the id of each one Deliver acknowledged; the parent
// SIGKILLs it mid-stream, reopens the store and checks that every
// acknowledged message is there exactly once, and no message twice.
func TestCrashDurability(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	code := sha256.Sum256([]byte("crash"))
	if err := s.Accounts().AddInvited(t.Context(), crashAddr, code); err != nil {
		t.Fatal(err)
	}
	if err := s.Accounts().Activate(t.Context(), crashAddr, code, store.ModeParanoid); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		acked[id] = true
		if len(acked) == crashAcks {
			// Lines printed before the kill are still read below: they
			// too were acknowledged.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if len(acked) < crashAcks {
		t.Fatalf("child stopped after %d acknowledgements: %v\n%s", len(acked), err, stderr.Bytes())
	}
	if ws, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !ws.Signaled() {
		t.Fatalf("child was not killed by the signal: %v\n%s", err, stderr.Bytes())
	}

	s = openTest(t, dir)
	found := map[string]int{}
	var since int64
	for range 1000 { // bounded: a feed that does not advance ends the test, not hangs it
		page, err := s.Mailbox().Changes(t.Context(), crashAddr, since, store.MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			doc, err := s.Mailbox().Get(t.Context(), crashAddr, c.DocID)
			if err != nil {
				t.Fatal(err)
			}
			id, _, _ := strings.Cut(string(doc.Data), " ")
			found[id]++
		}
		if len(page) < store.MaxPage {
			break
		}
		since = page[len(page)-1].Seq
	}
	for id, n := range found {
		if n != 1 {
			t.Errorf("message %s stored %d times", id, n)
		}
	}
	for id := range acked {
		if found[id] != 1 {
			t.Errorf("acknowledged message %s stored %d times", id, found[id])
		}
	}
	t.Logf("%d acknowledged, %d stored (the rest were in flight at the kill)", len(acked), len(found))
}

// crashChild delivers until killed. Each worker also redelivers its
// previous message, which must never make a second copy.
func crashChild(t *testing.T, dir string) {
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var next atomic.Int64
	deadline := time.Now().Add(crashChildCap)
	var wg sync.WaitGroup
	for range crashWorkers {
		wg.Go(func() {
			prev := ""
			for time.Now().Before(deadline) {
				id := fmt.Sprint("m", next.Add(1))
				data := fmt.Appendf(nil, "%s %s", id, bytes.Repeat([]byte{'x'}, 2048))
				_, created, err := s.Mailbox().Deliver(t.Context(), crashAddr, sha256.Sum256([]byte(id)), bytes.NewReader(data), int64(len(data)), time.Now())
				if err != nil || !created {
					t.Errorf("deliver %s: created %v, %v", id, created, err)
					return
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", id)
				mu.Unlock()
				if prev != "" {
					if _, created, err := s.Mailbox().Deliver(t.Context(), crashAddr, sha256.Sum256([]byte(prev)), strings.NewReader("again"), 5, time.Now()); err != nil || created {
						t.Errorf("redeliver %s: created %v, %v", prev, created, err)
						return
					}
				}
				prev = id
			}
		})
	}
	wg.Wait()
	t.Error("the child was not killed")
}
