package main

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/jackc/pgx/v5"

	"umbra/provider"
	"umbra/provider/store"
	"umbra/provider/store/postgres"
	"umbra/testnet"
)

// serverChild is `umbra server run` in a child process (the test binary
// re-executed, as startBridgeChild does).
type serverChild struct {
	cmd *exec.Cmd
	nd  *testnet.Node
}

// startServerChild runs `umbra server run --dir nd.Dir` and waits until
// it serves DMTP and DMAP.
func startServerChild(t *testing.T, nd *testnet.Node) *serverChild {
	t.Helper()
	cmd, sc := startChild(t, "server", "run", "--dir", nd.Dir, "--log-level", "error")
	c := &serverChild{cmd: cmd, nd: nd}
	// The addresses are printed once the node serves.
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "dmap ") {
	}
	if sc.Err() != nil || !strings.HasPrefix(sc.Text(), "dmap ") {
		t.Fatalf("node %s never announced DMAP: %v", nd.Dir, sc.Err())
	}
	drain(sc)
	return c
}

func (c *serverChild) kill(t *testing.T) { t.Helper(); killChild(t, c.cmd) }

// hostPort is the host:port of a DMAP URL.
func hostPort(t *testing.T, dmapURL string) string {
	t.Helper()
	u, err := url.Parse(dmapURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestTwoNodesKilled runs b.test as two `umbra server run` processes on
// one PostgreSQL database behind a TCP load balancer (testnet.Balancer)
// that listens on the addresses b.test's _dime record and organisation
// signet publish, as README's operator guide describes. Bob's bridge, in
// a child process, connects through the balancer to one node. Then, at
// once: alice@a.test sends bob 2,000 messages (200 under the race
// detector, race_on_test.go; 300 with -short) (a.test's relay, over DMTP
// through the balancer, so spread over both nodes), and carol@b.test
// submits 2,000 to alice over DMAP from 8 sessions spread over both nodes.
// A third of the way through carol's, the node that bob's bridge is on is
// SIGKILLed. What must hold: every message a.test acknowledged to alice
// and every one b.test acknowledged to carol arrives exactly once (a.test
// and carol retry what was not acknowledged, through the balancer, which
// now reaches the survivor); b.test's outbound queue empties from the
// survivor once the dead node's claims lapse (claim_lease 15s: shorter
// leases lapsed under the race detector while a live node was still
// relaying its batch of 16, and two nodes then relayed the same
// messages); and bob's
// bridge reconnects, through the balancer, to the survivor and converges
// on 2,000 messages in INBOX.
func TestTwoNodesKilled(t *testing.T) {
	t.Parallel()
	inbound, outbound := nodesKillMessages, nodesKillMessages
	if testing.Short() {
		inbound, outbound = 300, 300
	}
	ctx := t.Context()
	begin := time.Now()
	db := pg.NewDatabase(t)
	n, err := testnet.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	a, err := n.AddProvider("a.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(func(c *provider.Config) { c.RetryBase, c.RetryMax = 50*time.Millisecond, 500*time.Millisecond }); err != nil {
		t.Fatal(err)
	}
	alice, err := a.NewUser(ctx, "alice@a.test")
	if err != nil {
		t.Fatal(err)
	}

	// b.test runs in-process on its published addresses only to set up
	// the accounts, in the shared database.
	b, err := n.AddProvider("b.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(func(c *provider.Config) { c.DB = db }); err != nil {
		t.Fatal(err)
	}
	carol, err := testnet.RegisterDevice(ctx, b, "", "carol@b.test")
	if err != nil {
		t.Fatal(err)
	}
	carol.Client.Close()
	bobDir := filepath.Join(t.TempDir(), "bob")
	pw := secretFile(t, "correct horse battery staple")
	code, err := b.Provider.AddUser(ctx, "bob@b.test")
	if err != nil {
		t.Fatal(err)
	}
	mustUmbra(t, "account", "create", "bob@b.test", "--invite", code, "--dns="+n.DNS.Addr, "--dir", bobDir,
		"--password-file", pw, "--phrase-out", filepath.Join(t.TempDir(), "phrase"), "--name", "t")
	bob := &testnet.User{Address: "bob@b.test", Signet: signetOf(t, bobDir)}
	b.Stop()

	// Two nodes, each on ports of its own, behind balancers on the
	// published addresses.
	settings := map[string]string{"db": db, "claim_lease": "15s", "retry_base": "1s", "retry_max": "2s", "tunnel_private": "yes"}
	var nodes [2]*testnet.Node
	var children [2]*serverChild
	for i := range nodes {
		if nodes[i], err = n.AddNode("b.test", fmt.Sprintf("node%d", i+1), settings); err != nil {
			t.Fatal(err)
		}
		children[i] = startServerChild(t, nodes[i])
	}
	dmtpLB, err := testnet.StartBalancer(b.DMTP, nodes[0].DMTP, nodes[1].DMTP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dmtpLB.Close)
	dmapLB, err := testnet.StartBalancer(hostPort(t, b.DMAP), hostPort(t, nodes[0].DMAP), hostPort(t, nodes[1].DMAP))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dmapLB.Close)

	// Bob's bridge, and the node it is on: the victim.
	bridgeArgs := []string{"--dir", bobDir, "--password-file", pw, "--dns=" + n.DNS.Addr, "--imap", "127.0.0.1:0", "--smtp", "127.0.0.1:0", "--log-level", "error"}
	br := startBridgeChild(t, bridgeArgs...)
	victim := -1
	for deadline := time.Now().Add(30 * time.Second); victim < 0; time.Sleep(20 * time.Millisecond) {
		live := dmapLB.Live()
		for i, nd := range nodes {
			if live[hostPort(t, nd.DMAP)] > 0 {
				victim = i
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("bob's bridge never connected to a node")
		}
	}
	t.Logf("bob's bridge is on node %d; set up in %v", victim+1, time.Since(begin).Round(time.Millisecond))

	// Carol's sessions, through the balancer: spread over both nodes.
	sessions := make([]*testnet.Device, 8)
	for i := range sessions {
		cl, err := b.DMAPClient(b.DMAP)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		if err := cl.Login(ctx, carol.User.Address, carol.Key); err != nil {
			t.Fatal(err)
		}
		sessions[i] = &testnet.Device{User: carol.User, Key: carol.Key, Client: cl}
	}

	start := time.Now()
	var acked atomic.Int64
	killed := make(chan struct{})
	inDone := make(chan error, 1)
	go func() {
		// a.test acknowledges each (Submit returns once it is queued) and
		// relays it to b.test, retrying until b.test acknowledges it.
		inDone <- a.Deliver(ctx, alice, bob, b, inbound, func(i int) []byte { return testnet.MailMIME(i, 1024) })
	}()
	go func() {
		for acked.Load() < int64(outbound/3) {
			time.Sleep(5 * time.Millisecond)
		}
		children[victim].kill(t)
		close(killed)
	}()
	err = testnet.Parallel(ctx, len(sessions), outbound, func(i int) error {
		msg, err := testnet.Seal(carol.User, b, alice, a, testnet.MailMIME(inbound+i, 1024))
		if err != nil {
			return err
		}
		// Not acknowledged (the node died under the request): send
		// again, as a device does; the balancer reaches the survivor.
		for attempt := 0; ; attempt++ {
			_, err := sessions[i%len(sessions)].Client.Send(ctx, msg)
			if err == nil {
				acked.Add(1)
				return nil
			}
			if attempt == 50 {
				return fmt.Errorf("message %d: %w", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-inDone; err != nil {
		t.Fatal(err)
	}
	<-killed
	// Both nodes took deliveries and DMAP sessions.
	for _, lb := range []struct {
		name string
		b    *testnet.Balancer
		addr func(*testnet.Node) string
	}{{"DMTP", dmtpLB, func(nd *testnet.Node) string { return nd.DMTP }}, {"DMAP", dmapLB, func(nd *testnet.Node) string { return hostPort(t, nd.DMAP) }}} {
		served := lb.b.Served()
		for i, nd := range nodes {
			if served[lb.addr(nd)] == 0 {
				t.Errorf("node %d took no %s connection: %v", i+1, lb.name, served)
			}
		}
	}
	t.Logf("%d + %d messages acknowledged in %v, node %d killed on the way", inbound, outbound, time.Since(start).Round(time.Millisecond), victim+1)

	// Everything carol was acknowledged reaches alice once, through
	// the survivor's relay.
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitDigests(t, a.Provider.Store(), alice.Address, outbound)
	if entries, err := a.Provider.Store().Queue().List(ctx); err == nil && len(entries) > 0 {
		t.Logf("a.test still relays %d to bob; the first's last error: %q", len(entries), entries[0].LastError)
	}
	// Bob's bridge files his mail away from the feed as it syncs, so
	// the store's record of deliveries (one per message id: a second
	// delivery of one message makes none) is what is counted there;
	// the bridge's INBOX below shows each message once.
	waitDeliveries(t, db, bob.Address, inbound)
	for _, q := range []store.Store{st, a.Provider.Store()} {
		if err := waitEmpty(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	// Bob's bridge, whose node died, converges through the survivor.
	var got uint32
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if got = inboxCount(t, br.imap, bob.Address, br.password); got >= uint32(inbound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's bridge holds %d of %d messages after its node died", got, inbound)
		}
	}
	// Settled (as TestBridgeKilledDuringInitialSync waits): exactly the
	// messages delivered, none twice.
	time.Sleep(time.Second)
	if got = inboxCount(t, br.imap, bob.Address, br.password); got != uint32(inbound) {
		t.Fatalf("bob's bridge holds %d messages, want %d; subjects seen more than once or unexpected: %v", got, inbound, oddSubjects(t, br.imap, bob.Address, br.password))
	}
	t.Logf("all converged %v after the start", time.Since(start).Round(time.Millisecond))
}

// waitDigests waits until address in st holds want messages, then fails
// if one is stored twice or more arrived.
func waitDigests(t *testing.T, st store.Store, address string, want int) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		// Counting is cheap; the digests are read once.
		n := mailCount(t, st, address)
		if n >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d of %d messages", address, n, want)
		}
	}
	got, err := testnet.MailDigests(t.Context(), st, address)
	if err != nil {
		t.Fatal(err)
	}
	for d, k := range got {
		if k > 1 {
			t.Fatalf("%s: message %x stored %d times", address, d[:8], k)
		}
	}
	if len(got) != want {
		t.Fatalf("%s holds %d messages, want %d", address, len(got), want)
	}
}

// waitDeliveries waits until the PostgreSQL store at db has recorded want
// deliveries to address, and fails if it records more.
func waitDeliveries(t *testing.T, db, address string, want int) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	var n int
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM deliveries WHERE address = $1`, address).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages delivered to %s", n, want, address)
		}
	}
	if n != want {
		t.Fatalf("%d messages delivered to %s, want %d", n, address, want)
	}
}

// mailCount counts the live mail documents of address in st.
func mailCount(t *testing.T, st store.Store, address string) int {
	t.Helper()
	n := 0
	for since := int64(0); ; {
		page, err := st.Mailbox().Changes(t.Context(), address, since, store.MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			since = c.Seq
			if c.Kind == store.KindMail && !c.Deleted {
				n++
			}
		}
		if len(page) < store.MaxPage {
			return n
		}
	}
}

// waitEmpty waits until st's outbound queue is empty.
func waitEmpty(ctx context.Context, st store.Store) error {
	var left int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		entries, err := st.Queue().List(ctx)
		if err != nil {
			return err
		}
		if left = len(entries); left == 0 {
			return nil
		}
	}
	return fmt.Errorf("%d entries still queued", left)
}

// oddSubjects returns the subjects of INBOX that appear more than once or
// are not a test message's ("report N …"), for the failure message.
func oddSubjects(t *testing.T, addr, user, password string) []string {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.Envelope.Subject]++
	}
	var odd []string
	for s, n := range seen {
		if n > 1 || !strings.HasPrefix(s, "report ") {
			odd = append(odd, fmt.Sprintf("%q×%d", s, n))
		}
	}
	return odd
}
