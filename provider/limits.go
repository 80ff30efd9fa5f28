package provider

import (
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"umbra/connguard"
	"umbra/dmime"
	"umbra/dmtp"
	"umbra/ratelimit"
)

// Limits bound what clients can hold of a provider before and while they
// are served (issue 11; docs/spec/dmtp.md §7, docs/spec/dmap.md §2.5).
// Zero fields take the defaults named on each; umbra.conf sets the ones
// in limitKeys.
type Limits struct {
	// DMTPMaxConns [dmtp.DefaultMaxConns, 1000] and DMTPMaxPerAddr [32]
	// bound DMTP connections in total and per client address (an IPv4
	// address or an IPv6 /64). Over a bound a connection is answered
	// "421 4.7.0 <reason>" in clear, before TLS, and closed.
	DMTPMaxConns, DMTPMaxPerAddr int
	// DMAPMaxConns [1000] and DMAPMaxPerAddr [64] do the same for DMAP,
	// closing refused connections silently (there is no HTTP answer
	// before TLS). A device holds one HTTP/2 connection; the per-address
	// bound leaves room for a household or office behind one address.
	DMAPMaxConns, DMAPMaxPerAddr int
	// InflightMemory [256 MiB] is the memory all DMTP message bodies of
	// up to spoolAbove bytes and DMAP request bodies being received may
	// hold at once (larger DMTP bodies go to the spool, under SpoolDisk).
	// Each body holds about what has arrived (up to four times that, and
	// the old buffer too while one grows); a body that would pass the
	// budget is refused (DMTP "421 4.3.2", DMAP "503 unavailable") and its
	// sender retries later. It must be at least one and a half times
	// MaxMessageSize plus a trace, what the largest DMAP body holds while
	// its buffer grows the last time.
	InflightMemory int64
	// SpoolDisk [4 GiB] is the disk all DMTP message bodies larger than
	// spoolAbove may take at once in the spool, encrypted, while they
	// arrive and are checked. Each takes what has arrived, in 1 MiB steps;
	// over it the sender is answered "421 4.3.2". At least MaxMessageSize.
	SpoolDisk int64
	// HandshakeTimeout [10 s] bounds the TLS handshake of DMTP and DMAP
	// and, for DMAP, each request's headers.
	HandshakeTimeout time.Duration
	// MinRate [dmtp.DefaultMinDataRate: 8 KiB/s after 10 s; each field
	// defaults on its own] is the slowest DMTP message body and DMAP
	// request body accepted; a negative BytesPerSec switches the rate off.
	MinRate connguard.MinRate
	// DataTimeout [dmtp.DefaultDataTimeout, 10 min] bounds one whole DMTP
	// message body and one whole DMAP request body.
	DataTimeout time.Duration
	// CommandTimeout [dmtp.DefaultReadTimeout, 5 min] is how long DMTP
	// waits for the next command.
	CommandTimeout time.Duration
}

// Defaults of Limits not taken from dmtp.
const (
	defaultDMTPMaxPerAddr = 32
	defaultDMAPMaxConns   = 1000
	defaultDMAPMaxPerAddr = 64
	defaultInflight       = 256 << 20
	defaultSpoolDisk      = 4 << 30
)

// spoolAbove is the size above which a DMTP message waits on disk, not in
// memory, while it arrives: most mail is smaller and costs no file, and a
// large one costs a connection no more than the spool's buffers.
const spoolAbove = 1 << 20

func (l *Limits) setDefaults(maxMessage int64) error {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.DMTPMaxConns, dmtp.DefaultMaxConns)
	def(&l.DMTPMaxPerAddr, defaultDMTPMaxPerAddr)
	def(&l.DMAPMaxConns, defaultDMAPMaxConns)
	def(&l.DMAPMaxPerAddr, defaultDMAPMaxPerAddr)
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&l.HandshakeTimeout, dmtp.DefaultHandshakeTimeout)
	dur(&l.DataTimeout, dmtp.DefaultDataTimeout)
	dur(&l.CommandTimeout, dmtp.DefaultReadTimeout)
	if l.MinRate.BytesPerSec == 0 {
		l.MinRate.BytesPerSec = dmtp.DefaultMinDataRate.BytesPerSec
	}
	if l.MinRate.Grace <= 0 {
		l.MinRate.Grace = dmtp.DefaultMinDataRate.Grace
	}
	if l.InflightMemory <= 0 {
		l.InflightMemory = defaultInflight
	}
	if l.SpoolDisk <= 0 {
		l.SpoolDisk = defaultSpoolDisk
	}
	if l.SpoolDisk < maxMessage {
		return fmt.Errorf("provider: spool_disk (%d bytes) is below max_message_size (%d): the largest message could never be received", l.SpoolDisk, maxMessage)
	}
	if need := (maxMessage + dmime.MaxTraceChunk) * 3 / 2; l.InflightMemory < need {
		return fmt.Errorf("provider: inflight_memory (%d bytes) is below 1.5 times max_message_size plus a trace (%d): the largest message could never be received", l.InflightMemory, need)
	}
	return nil
}

// limitKeys are the settings of umbra.conf for Limits.
var limitKeys = []configKey{
	{"dmtp_max_conns", strconv.Itoa(dmtp.DefaultMaxConns), "DMTP connections served at once; more are answered 421 and closed.",
		func(c *Config, v string) error { return setCount(&c.Limits.DMTPMaxConns, v) }},
	{"dmtp_max_conns_per_addr", strconv.Itoa(defaultDMTPMaxPerAddr), "DMTP connections served at once from one client address (IPv4 address or IPv6 /64).",
		func(c *Config, v string) error { return setCount(&c.Limits.DMTPMaxPerAddr, v) }},
	{"dmap_max_conns", strconv.Itoa(defaultDMAPMaxConns), "DMAP connections served at once.",
		func(c *Config, v string) error { return setCount(&c.Limits.DMAPMaxConns, v) }},
	{"dmap_max_conns_per_addr", strconv.Itoa(defaultDMAPMaxPerAddr), "DMAP connections served at once from one client address.",
		func(c *Config, v string) error { return setCount(&c.Limits.DMAPMaxPerAddr, v) }},
	{"inflight_memory", "256MiB", "Memory all DMTP messages and DMAP request bodies being received may hold at once; beyond it senders are told to retry later. At least 1.5 times max_message_size.",
		func(c *Config, v string) error { return setSize(&c.Limits.InflightMemory, v) }},
	{"spool_disk", "4GiB", "Disk all DMTP messages larger than 1 MiB may take at once, encrypted, while they arrive; beyond it senders are told to retry later. At least max_message_size.",
		func(c *Config, v string) error { return setSize(&c.Limits.SpoolDisk, v) }},
	{"min_transfer_rate", "8KiB", "Slowest DMTP message body and DMAP request body accepted, in bytes per second on average once min_transfer_grace has passed.",
		func(c *Config, v string) error { return setSize(&c.Limits.MinRate.BytesPerSec, v) }},
	{"min_transfer_grace", "10s", "Time a message or request body has before min_transfer_rate applies.",
		func(c *Config, v string) error { return setDuration(&c.Limits.MinRate.Grace, v) }},
	{"handshake_timeout", "10s", "Time a client has for the TLS handshake (and, on DMAP, the request headers).",
		func(c *Config, v string) error { return setDuration(&c.Limits.HandshakeTimeout, v) }},
}

func setCount(dst *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1<<20 {
		return fmt.Errorf("want a number from 1 to %d", 1<<20)
	}
	*dst = n
	return nil
}

// MemoryLimit is the soft memory limit for a process that runs this
// provider alone: the in-flight budget and 128 MiB for everything else
// (connections, caches, the store). The budget bounds the bodies alive at
// once but not the garbage they leave: with Go's default GOGC the heap
// may grow to twice what was live at the last collection (16 concurrent
// 64 MiB messages held in memory under the default budget took 657 MiB
// of RSS, before DMTP bodies went to the spool; docs/benchmarks.md).
func (p *Provider) MemoryLimit() int64 { return p.cfg.Limits.InflightMemory + 128<<20 }

// SetMemoryLimit makes MemoryLimit the Go runtime's soft memory limit
// (runtime/debug.SetMemoryLimit), so that the collector runs as often as
// it takes to stay near it, unless the operator set GOMEMLIMIT. It sets
// the whole process: call it only where this provider is all it runs.
func (p *Provider) SetMemoryLimit() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(p.MemoryLimit())
	}
}

// guardDMTP bounds a DMTP listener by the limits; a refused client reads
// one "421 4.7.0" line in clear, since no TLS session exists yet
// (docs/spec/dmtp.md §7).
func (p *Provider) guardDMTP(ln net.Listener) *connguard.Listener {
	l := p.cfg.Limits
	return connguard.Wrap(ln, connguard.Limits{MaxConns: l.DMTPMaxConns, MaxPerAddr: l.DMTPMaxPerAddr}, func(c net.Conn, why connguard.Refusal) {
		p.log.Debug("DMTP connection refused", "remote", connguard.Addr(c), "why", why.String(), ratelimit.ClientFault)
		_, _ = fmt.Fprintf(c, "421 4.7.0 %s %s, try again later\r\n", p.domain, why)
	})
}

// newDMTPServer is the DMTP server with the provider's limits.
func (p *Provider) newDMTPServer() *dmtp.Server {
	l := p.cfg.Limits
	return &dmtp.Server{
		Backend:          backend{p},
		TLSConfig:        p.tls,
		Hostname:         p.domain,
		MaxMessageSize:   p.cfg.MaxMessageSize,
		ReadTimeout:      l.CommandTimeout,
		DataTimeout:      l.DataTimeout,
		HandshakeTimeout: l.HandshakeTimeout,
		MinDataRate:      l.MinRate,
		MaxConns:         l.DMTPMaxConns,
		Logger:           p.log,
	}
}
