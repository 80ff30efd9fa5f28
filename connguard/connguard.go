// Package connguard bounds what strangers can hold of a listener before
// they authenticate: the number of connections served at once in total and
// per client address. Every public listener of Umbra (DMTP, DMAP, the
// legacy MX) is wrapped in one, so a single host cannot take all slots and
// shut out everybody else.
//
// A connection over a limit is answered by the protocol's own refusal (for
// SMTP and DMTP a 421 line, for HTTPS nothing) and closed at once, without
// ever reaching the server behind the listener.
//
// Concurrency: a Listener is safe for concurrent use; Accept may be called
// from one goroutine while connections are closed from others. A slot is
// released exactly once, by the first Close of its connection.
package connguard

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limits are the bounds of one listener. Zero means no bound.
type Limits struct {
	// MaxConns is the number of connections served at once.
	MaxConns int
	// MaxPerAddr is the number served at once from one client address
	// (an IPv4 address, or an IPv6 /64: one host's usual allocation).
	MaxPerAddr int
}

// Refusal says why a connection was refused.
type Refusal int

const (
	// TooMany: the listener serves MaxConns connections already.
	TooMany Refusal = iota + 1
	// TooManyFromAddr: the client's address holds MaxPerAddr already.
	TooManyFromAddr
)

func (r Refusal) String() string {
	switch r {
	case TooMany:
		return "too many connections"
	case TooManyFromAddr:
		return "too many connections from your address"
	}
	return "refused"
}

// refuseWriteTimeout bounds the refusal write: a client that does not
// read must not hold the accepting goroutine.
const refuseWriteTimeout = 200 * time.Millisecond

// Listener is a net.Listener that hands out only connections within its
// Limits.
type Listener struct {
	net.Listener
	lim Limits
	// refuse writes the protocol's refusal on a connection that is then
	// closed; nil closes it silently.
	refuse func(c net.Conn, why Refusal)

	mu     sync.Mutex
	total  int
	byAddr map[netip.Prefix]int
	// refused counts refusals, for metrics and tests.
	refused int64
}

// Wrap returns ln bounded by lim. refuse, if not nil, is called on each
// refused connection with a write deadline already set, before it is
// closed; it must not read from it.
func Wrap(ln net.Listener, lim Limits, refuse func(c net.Conn, why Refusal)) *Listener {
	return &Listener{Listener: ln, lim: lim, refuse: refuse, byAddr: map[netip.Prefix]int{}}
}

// Accept waits for the next connection within the limits. Refused
// connections are answered and closed here and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := addrKey(c.RemoteAddr())
		if why := l.take(key); why != 0 {
			if l.refuse != nil {
				_ = c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
				l.refuse(c, why)
			}
			_ = c.Close()
			continue
		}
		return &conn{Conn: c, l: l, key: key}, nil
	}
}

func (l *Listener) take(key netip.Prefix) Refusal {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.lim.MaxConns > 0 && l.total >= l.lim.MaxConns:
		l.refused++
		return TooMany
	case l.lim.MaxPerAddr > 0 && key.IsValid() && l.byAddr[key] >= l.lim.MaxPerAddr:
		l.refused++
		return TooManyFromAddr
	}
	l.total++
	if key.IsValid() {
		l.byAddr[key]++
	}
	return 0
}

func (l *Listener) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if key.IsValid() {
		if l.byAddr[key]--; l.byAddr[key] <= 0 {
			delete(l.byAddr, key)
		}
	}
}

// Stats is a snapshot of a Listener's counters.
type Stats struct {
	Open    int   // connections served now
	Refused int64 // connections refused since the start
}

// Stats returns the listener's counters.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Open: l.total, Refused: l.refused}
}

// addrKey is the client's address as the limits count it: the IPv4
// address, or the /64 of an IPv6 address. Addresses that are not IP
// (a Unix socket in tests) have no key and count only in the total.
func addrKey(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// Addr returns the client address key of c as a string ("192.0.2.1/32",
// "2001:db8::/64"): the unit the limits count, and the one rate limits
// and logs elsewhere should use.
func Addr(c net.Conn) string {
	k := addrKey(c.RemoteAddr())
	if !k.IsValid() {
		return c.RemoteAddr().String()
	}
	return k.String()
}

// conn releases its slot on the first Close.
type conn struct {
	net.Conn
	l    *Listener
	key  netip.Prefix
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

// NetConn returns the connection underneath, for code that needs its
// concrete type (as crypto/tls.Conn.NetConn does).
func (c *conn) NetConn() net.Conn { return c.Conn }
