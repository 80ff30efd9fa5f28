package provider_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"umbra/provider"
	"umbra/testnet"
)

// sharedLease is the claim lease of the nodes of TestSharedPostgres: how
// long a killed node's claims hold its mail.
const sharedLease = 5 * time.Second

// TestSharedPostgres runs b.test as two nodes on one PostgreSQL database:
// node 1 in-process, node 2 a child process. A delivery on node 2 wakes a
// DMAP long-poll on node 1 (LISTEN/NOTIFY); mail submitted on both nodes
// is relayed by both from the shared queue, none twice; and when node 2
// is SIGKILLed with mail queued and claimed, node 1 delivers all of it
// once node 2's leases end.
func TestSharedPostgres(t *testing.T) {
	t.Parallel()
	url := pg.NewDatabase(t)
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	a, err := n.AddProvider("a.test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddProvider("b.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(func(c *provider.Config) { fastRetries(c); c.MetricsListen = "127.0.0.1:0" }); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(func(c *provider.Config) { fastRetries(c); c.DB = url; c.ClaimLease = sharedLease }); err != nil {
		t.Fatal(err)
	}
	b2, err := n.AddNode("b.test", "node2", map[string]string{"db": url})
	if err != nil {
		t.Fatal(err)
	}
	node2 := startChildLogging(t, b2, os.Stderr, leaseEnv+"="+sharedLease.String())
	ctx := t.Context()

	// bob's device talks to node 1, carol's to node 2 (the operator's
	// invitation goes through node 1: the accounts are in the shared
	// database).
	bob := register(t, b, "bob@b.test")
	via2 := *b2
	via2.Provider = b.Provider
	carol := register(t, &via2, "carol@b.test")
	alice, err := a.NewUser(ctx, "alice@a.test")
	if err != nil {
		t.Fatal(err)
	}

	// 1. Mail carol sends bob through node 2 wakes bob's long-poll on node 1.
	polled := make(chan int, 1)
	go func() {
		p, err := bob.client.Changes(ctx, 0, 30*time.Second)
		if err != nil {
			t.Error(err)
		}
		polled <- len(p.Changes)
	}()
	time.Sleep(300 * time.Millisecond) // let the poll park (if it has not, it returns at once all the same)
	msg, err := testnet.Seal(carol.user, b2, bob.user, b, mimeMessage("hello", "from node 2"))
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if _, err := carol.client.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-polled:
		if got != 1 {
			t.Fatalf("bob's long-poll on node 1 returned %d changes, want 1", got)
		}
		t.Logf("node 1's long-poll woke %v after the delivery on node 2", time.Since(sent).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("bob's long-poll on node 1 did not wake for mail delivered on node 2")
	}

	// 2. Both nodes relay the shared queue, nothing twice.
	const mixed = 40
	send := func(i int) error {
		from, node := bob.user, b
		if i%2 == 1 {
			from, node = carol.user, b2
		}
		msg, err := testnet.Seal(from, node, alice, a, mimeMessage(fmt.Sprintf("message %d", i), "body"))
		if err != nil {
			return err
		}
		if i%2 == 1 {
			_, err = carol.client.Send(ctx, msg)
		} else {
			_, err = b.Provider.Submit(ctx, bob.user.Address, bytes.NewReader(msg), int64(len(msg)))
		}
		return err
	}
	if err := testnet.Parallel(ctx, 4, mixed, send); err != nil {
		t.Fatal(err)
	}
	exactMail(t, a, alice.Address, mixed)
	if dup := metric(t, a, `umbra_deliveries_total{result="duplicate"}`); dup != 0 {
		t.Fatalf("a.test received %d duplicates from the two nodes", dup)
	}

	// 3. Node 2 dies with mail queued and claimed; node 1 carries on.
	const burst = 60
	if err := testnet.Parallel(ctx, 4, burst, func(i int) error { return send(2*i + 1 + mixed) }); err != nil {
		t.Fatal(err)
	}
	node2.kill(t)
	held := 0
	entries, err := b.Provider.Store().Queue().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.LeaseOwner, "node2/") && e.LeaseUntil.After(time.Now()) {
			held++
		}
	}
	t.Logf("node 2 killed with %d entries queued, %d of them under its claims", len(entries), held)
	exactMail(t, a, alice.Address, mixed+burst)
}

// exactMail waits until address at nd holds want messages and fails if
// it holds more.
func exactMail(t *testing.T, nd *testnet.Node, address string, want int) {
	t.Helper()
	if got := len(waitMail(t, nd.Provider.Store(), address, want)); got != want {
		t.Fatalf("%s holds %d messages, want %d", address, got, want)
	}
}

// metric reads one sample of nd's metrics; 0 if it is absent.
func metric(t *testing.T, nd *testnet.Node, name string) int {
	t.Helper()
	resp, err := http.Get("http://" + nd.Provider.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return int(f)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return 0
}
