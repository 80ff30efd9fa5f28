package testnet

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"sync"
	"time"
)

// Balancer is a TCP load balancer, as an operator puts in front of several
// nodes of one domain (README, "Several nodes"): it listens on one
// address, the one the domain's _dime record and organisation signet
// publish, and hands each new connection to the next backend in turn that
// accepts it, so a dead node's share goes to the others. It passes bytes
// through: TLS ends at the node, which holds the certificate both nodes
// share.
type Balancer struct {
	ln       net.Listener
	backends []string

	mu     sync.Mutex
	closed bool
	next   int
	live   map[string]int    // open connections per backend
	total  map[string]int    // connections ever handed to each backend
	conns  map[net.Conn]bool // both ends of every open connection, for Close
	wg     sync.WaitGroup    // the accept loop and the copiers
	dial   func(string) (net.Conn, error)
}

// StartBalancer listens on addr and balances over backends (host:port).
func StartBalancer(addr string, backends ...string) (*Balancer, error) {
	if len(backends) == 0 {
		return nil, errors.New("testnet: balancer without backends")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("testnet: balancer: %w", err)
	}
	b := &Balancer{ln: ln, backends: backends, live: map[string]int{}, total: map[string]int{}, conns: map[net.Conn]bool{},
		dial: func(a string) (net.Conn, error) { return net.DialTimeout("tcp", a, time.Second) }}
	b.wg.Go(b.accept)
	return b, nil
}

// Addr is the address the balancer listens on.
func (b *Balancer) Addr() string { return b.ln.Addr().String() }

// Live returns the number of open connections to each backend.
func (b *Balancer) Live() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.live)
}

// Served returns the number of connections handed to each backend so
// far.
func (b *Balancer) Served() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.total)
}

// Close stops listening, cuts every connection and waits for the copiers.
func (b *Balancer) Close() {
	b.ln.Close()
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Balancer) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return // closed
		}
		b.wg.Go(func() { b.serve(c) })
	}
}

// serve connects c to the first backend, from the next in turn, that
// accepts a connection; with none, it closes c, as a balancer whose
// nodes are all down does.
func (b *Balancer) serve(c net.Conn) {
	b.mu.Lock()
	start := b.next
	b.next = (b.next + 1) % len(b.backends)
	b.mu.Unlock()
	var up net.Conn
	var backend string
	for i := range b.backends {
		backend = b.backends[(start+i)%len(b.backends)]
		var err error
		if up, err = b.dial(backend); err == nil {
			break
		}
	}
	if up == nil {
		c.Close()
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	b.live[backend]++
	b.total[backend]++
	b.conns[c], b.conns[up] = true, true
	b.mu.Unlock()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		// One side ended: end both, as a balancer does when a node dies
		// (the client then sees its connection break and dials again).
		dst.Close()
		src.Close()
	}
	wg.Go(func() { pipe(up, c) })
	wg.Go(func() { pipe(c, up) })
	wg.Wait()
	b.mu.Lock()
	b.live[backend]--
	delete(b.conns, c)
	delete(b.conns, up)
	b.mu.Unlock()
}
