package testnet

// DMTPBench and its methods: the network, the sealed messages and the
// timed runs of the DMTP benchmark (see bench.go).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"umbra/dmime"
	"umbra/dmtp"
	"umbra/provider"
	"umbra/provider/store"
	"umbra/signet"
)

// DMTPBench is the benchmark's network, started: a.test and b.test
// in-process with alice@a.test and bob@b.test. Its methods are called by
// one goroutine at a time.
type DMTPBench struct {
	Net        *Network
	A, B       *Node
	BNodes     []*Node // b.test's nodes: B, then those sharing its PostgreSQL store (BenchOptions.Nodes)
	Alice, Bob *User
	aOrg, bOrg *signet.Org
}

// NewDMTPBench builds the network under dir, which must exist; b.test's
// store is db (BenchOptions.DB), served by nodes in-process nodes
// (BenchOptions.Nodes; more than one only on a PostgreSQL store).
func NewDMTPBench(ctx context.Context, dir, db string, nodes int) (*DMTPBench, error) {
	if nodes > 1 && db == "" {
		return nil, errors.New("testnet: bench: several nodes of b.test need a PostgreSQL store")
	}
	n, err := New(dir)
	if err != nil {
		return nil, fmt.Errorf("testnet: bench: %w", err)
	}
	d := &DMTPBench{Net: n}
	if err := d.start(ctx, db, nodes); err != nil {
		d.Close()
		return nil, fmt.Errorf("testnet: bench: %w", err)
	}
	return d, nil
}

func (d *DMTPBench) start(ctx context.Context, db string, nodes int) error {
	var err error
	if d.A, err = d.startNode("a.test", ""); err != nil {
		return err
	}
	if d.B, err = d.startNode("b.test", db); err != nil {
		return err
	}
	d.BNodes = []*Node{d.B}
	for i := 2; i <= nodes; i++ {
		nd, err := d.Net.AddNode("b.test", fmt.Sprintf("b%d", i), map[string]string{"db": db})
		if err != nil {
			return err
		}
		if err := nd.Start(nil); err != nil {
			return err
		}
		d.BNodes = append(d.BNodes, nd)
	}
	if d.Alice, err = d.A.NewUser(ctx, "alice@a.test"); err != nil {
		return err
	}
	if d.Bob, err = d.B.NewUser(ctx, "bob@b.test"); err != nil {
		return err
	}
	if d.aOrg, err = d.A.OrgSignet(); err != nil {
		return err
	}
	d.bOrg, err = d.B.OrgSignet()
	return err
}

// startNode adds the provider of domain with its default configuration
// (as `umbra server init` writes it), on the store db, and starts it
// in-process.
func (d *DMTPBench) startNode(domain, db string) (*Node, error) {
	nd, err := d.Net.AddProvider(domain)
	if err != nil {
		return nil, err
	}
	return nd, nd.Start(func(c *provider.Config) { c.DB = db })
}

// Close stops the network and b.test's added nodes.
func (d *DMTPBench) Close() {
	for _, nd := range d.BNodes[min(1, len(d.BNodes)):] {
		nd.Stop()
	}
	d.Net.Close()
}

// BenchMIME is message i of a run: RFC 5322 headers and a text body of
// exactly size bytes, random base64 in 76-column lines, so that no two
// messages are alike.
func BenchMIME(i, size int) []byte {
	raw := make([]byte, size*3/4+3)
	rand.Read(raw)
	text := base64.StdEncoding.EncodeToString(raw)
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\nSubject: benchmark message %d\r\n"+
		"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d.bench@a.test>\r\nContent-Type: text/plain\r\n\r\n", i, i)
	body := b.Len()
	for b.Len()-body < size {
		line := text[:min(76, len(text))]
		text = text[len(line):]
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()[:body+size]
}

// Sealed returns n messages of a size-byte body sealed by alice to bob,
// sealed on every CPU at once.
func (d *DMTPBench) Sealed(size, n int) ([][]byte, error) {
	out := make([][]byte, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				out[i], errs[i] = Seal(d.Alice, d.A, d.Bob, d.B, BenchMIME(i, size))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("testnet: bench: seal: %w", err)
	}
	return out, nil
}

// OriginSigned returns the messages with a.test's origin signature, as
// a.test's relay would send them.
func (d *DMTPBench) OriginSigned(msgs [][]byte) ([][]byte, error) {
	out := make([][]byte, len(msgs))
	sok := d.A.Provider.Org().SOK
	for i, m := range msgs {
		var b bytes.Buffer
		b.Grow(len(m) + 128)
		if err := dmime.SignOrigin(&b, bytes.NewReader(m), sok); err != nil {
			return nil, fmt.Errorf("testnet: bench: origin signature: %w", err)
		}
		out[i] = b.Bytes()
	}
	return out, nil
}

// Send delivers origin-signed messages to b.test over senders DMTP
// connections, each message one transaction (MAIL a.test, RCPT b.test,
// DATA), and times each from MAIL to the 250 after DATA, which b.test
// sends only once the message is durable (DESIGN §6). Connecting, TLS and
// EHLO happen before the clock starts, and so does one MAIL that makes
// b.test validate a.test (DNS and SGNT), which it then caches.
func (d *DMTPBench) Send(ctx context.Context, msgs [][]byte, senders int, progress io.Writer) (Rate, error) {
	if len(msgs) == 0 || senders < 1 {
		return Rate{}, fmt.Errorf("testnet: bench: %d messages, %d senders", len(msgs), senders)
	}
	conns := make([]*dmtp.Client, 0, senders)
	defer func() {
		for _, cl := range conns {
			cl.Quit()
		}
	}()
	for i := range min(senders, len(msgs)) {
		// Spread over b.test's nodes, as DNS round robin would.
		cl, err := dmtp.Dial(ctx, d.BNodes[i%len(d.BNodes)].DMTP, dmtp.PinnedConfig(d.B.Record.TLSPin, "127.0.0.1"))
		if err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: %w", err)
		}
		conns = append(conns, cl)
		if err := cl.Hello(d.A.Domain); err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: %w", err)
		}
	}
	for _, cl := range conns[:min(len(conns), len(d.BNodes))] {
		if err := cl.Mail(d.A.Domain, d.aOrg.Fingerprint()); err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: warm-up MAIL: %w", err)
		}
		if err := cl.Reset(); err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: warm-up RSET: %w", err)
		}
	}
	lat := make([]time.Duration, len(msgs))
	run := newRun(ctx, len(msgs), progress, "sent over DMTP")
	for _, cl := range conns {
		run.worker(func(i int) error {
			t0 := time.Now()
			err := d.sendOne(cl, msgs[i])
			lat[i] = time.Since(t0)
			return err
		})
	}
	if err := run.wait(); err != nil {
		return Rate{}, err
	}
	return run.rate(lat, totalBytes(msgs), 0), nil
}

// OpenCeiling checks origin-signed messages as b.test must on arrival
// (open its keyslot: one HPKE decapsulation; verify the origin signature:
// one Ed25519 verification, under the one key that made it; parse and
// decrypt the destination chunk), on every CPU at once with nothing else
// running: the most messages per second the destination's cryptography
// allows on this machine, however fast its disk.
func (d *DMTPBench) OpenCeiling(ctx context.Context, msgs [][]byte) (Rate, error) {
	if len(msgs) == 0 {
		return Rate{}, errors.New("testnet: bench: no messages to open")
	}
	enc := d.B.Provider.Org().Enc
	keys := []ed25519.PublicKey{d.A.Provider.Org().SOK.Public().(ed25519.PublicKey)}
	lat := make([]time.Duration, len(msgs))
	run := newRun(ctx, len(msgs), nil, "")
	for range runtime.GOMAXPROCS(0) {
		run.worker(func(i int) error {
			t0 := time.Now()
			_, err := dmime.Open(bytes.NewReader(msgs[i]), dmime.RoleDestination, enc, dmime.OpenOptions{OriginKeys: keys})
			lat[i] = time.Since(t0)
			if err != nil {
				return fmt.Errorf("testnet: bench: open message %d: %w", i, err)
			}
			return nil
		})
	}
	if err := run.wait(); err != nil {
		return Rate{}, err
	}
	return run.rate(lat, totalBytes(msgs), 0), nil
}

func (d *DMTPBench) sendOne(cl *dmtp.Client, msg []byte) error {
	if err := cl.Mail(d.A.Domain, d.aOrg.Fingerprint()); err != nil {
		return fmt.Errorf("testnet: bench: MAIL: %w", err)
	}
	if err := cl.Rcpt(d.B.Domain, d.bOrg.Fingerprint()); err != nil {
		return fmt.Errorf("testnet: bench: RCPT: %w", err)
	}
	if err := cl.Data(bytes.NewReader(msg), int64(len(msg))); err != nil {
		return fmt.Errorf("testnet: bench: DATA: %w", err)
	}
	return nil
}

// Mailbox counts bob's live mail documents at b.test and returns the
// last sequence number of his change feed.
func (d *DMTPBench) Mailbox(ctx context.Context) (count int, last int64, err error) {
	mb := d.B.Provider.Store().Mailbox()
	for {
		page, err := mb.Changes(ctx, d.Bob.Address, last, store.MaxPage)
		if err != nil {
			return 0, 0, fmt.Errorf("testnet: bench: bob's changes: %w", err)
		}
		for _, c := range page {
			last = c.Seq
			if c.Kind == store.KindMail && !c.Deleted {
				count++
			}
		}
		if len(page) < store.MaxPage {
			return count, last, nil
		}
	}
}

// stallTimeout is how long Relay waits for the next message to arrive at
// b.test before it declares the queue stuck.
const stallTimeout = time.Minute

// Relay submits sealed messages at a.test as alice, from senders
// goroutines, and times each from the call to Submit until it is stored in
// bob's mailbox at b.test: a.test's checks and origin signature, its
// durable queue, its relay workers (QueueWorkers, default 4), DMTP and
// b.test's durable store. Arrivals are seen by polling bob's change feed
// every 2 ms, which adds up to that much to each latency.
func (d *DMTPBench) Relay(ctx context.Context, sealed [][]byte, senders int, progress io.Writer) (Rate, error) {
	if len(sealed) == 0 || senders < 1 {
		return Rate{}, fmt.Errorf("testnet: bench: %d messages, %d senders", len(sealed), senders)
	}
	want := make(map[[32]byte]int, len(sealed))
	for i, m := range sealed {
		l, err := dmime.Inspect(bytes.NewReader(m))
		if err != nil {
			return Rate{}, fmt.Errorf("testnet: bench: message %d: %w", i, err)
		}
		want[l.Digest] = i
	}
	_, since, err := d.Mailbox(ctx)
	if err != nil {
		return Rate{}, err
	}
	starts := make([]time.Time, len(sealed))
	arrived := make([]time.Time, len(sealed))
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watched := make(chan error, 1)
	go func() { watched <- d.watch(wctx, since, want, arrived) }()
	run := newRun(ctx, len(sealed), progress, "submitted at a.test")
	for range senders {
		run.worker(func(i int) error {
			starts[i] = time.Now()
			if _, err := d.A.Provider.Submit(run.ctx, d.Alice.Address, bytes.NewReader(sealed[i]), int64(len(sealed[i]))); err != nil {
				return fmt.Errorf("testnet: bench: submit: %w", err)
			}
			return nil
		})
	}
	if err := run.wait(); err != nil {
		stopWatch()
		<-watched
		return Rate{}, err
	}
	if err := <-watched; err != nil {
		return Rate{}, err
	}
	cpu := run.cpuSince()
	lat := make([]time.Duration, len(sealed))
	last := run.start
	for i := range lat {
		lat[i] = arrived[i].Sub(starts[i])
		if arrived[i].After(last) {
			last = arrived[i]
		}
	}
	r := NewRate(lat, last.Sub(run.start), totalBytes(sealed), 0)
	r.CPU = cpu / time.Duration(len(lat))
	return r, nil
}

// watch follows bob's change feed from since and records when each
// message of want (by D/MIME digest) arrives, until all have.
func (d *DMTPBench) watch(ctx context.Context, since int64, want map[[32]byte]int, arrived []time.Time) error {
	mb := d.B.Provider.Store().Mailbox()
	seen, lastNew := 0, time.Now()
	for seen < len(want) {
		page, err := mb.Changes(ctx, d.Bob.Address, since, store.MaxPage)
		now := time.Now()
		if err != nil {
			return fmt.Errorf("testnet: bench: bob's changes: %w", err)
		}
		for _, c := range page {
			since = c.Seq
			if c.Kind != store.KindMail || c.Deleted {
				continue
			}
			doc, err := mb.Get(ctx, d.Bob.Address, c.DocID)
			if err != nil {
				return fmt.Errorf("testnet: bench: bob's document %s: %w", c.DocID, err)
			}
			l, err := dmime.Inspect(bytes.NewReader(doc.Data))
			if err != nil {
				return fmt.Errorf("testnet: bench: bob's document %s: %w", c.DocID, err)
			}
			if i, ok := want[l.Digest]; ok && arrived[i].IsZero() {
				arrived[i], lastNew = now, now
				seen++
			}
		}
		if len(page) == store.MaxPage {
			continue
		}
		if time.Since(lastNew) > stallTimeout {
			return fmt.Errorf("testnet: bench: %d of %d submitted messages stored at b.test and none more for %v: a.test's queue is stuck",
				seen, len(want), stallTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}
