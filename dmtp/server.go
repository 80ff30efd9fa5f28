package dmtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"umbra/connguard"
	"umbra/ratelimit"
)

// Look-ups per client address (docs/spec/dmtp.md §7): a provider's users
// look other domains' signets up through it (tunnels, docs/spec/dmap.md
// §9.3), so one address may ask for many; unknown names are what
// enumeration produces.
var (
	DefaultLookupLimit = ratelimit.Limit{Burst: 600, Every: 50 * time.Millisecond}
	DefaultMissLimit   = ratelimit.Limit{Burst: 60, Every: 2 * time.Second}
)

// Defaults for the Server's zero fields (docs/spec/dmtp.md §7).
const (
	DefaultMaxMessageSize = 64 << 20
	DefaultReadTimeout    = 5 * time.Minute // RFC 5321 §4.5.3.2.7: a server waits 5 minutes for the next command
	DefaultWriteTimeout   = time.Minute
	DefaultDataTimeout    = 10 * time.Minute
	DefaultMaxConns       = 1000
	// DefaultHandshakeTimeout bounds the TLS handshake: a peer that opens
	// a connection and says nothing frees its slot after this, not after
	// the command timeout.
	DefaultHandshakeTimeout = 10 * time.Second
)

// DefaultMinDataRate is the slowest DATA body the server waits for: on
// average 8 KiB/s once 10 s have passed (spec §7). A 64 MiB message needs
// 112 KB/s anyway to arrive within DefaultDataTimeout; the rate is what
// frees a trickling connection long before that.
var DefaultMinDataRate = connguard.MinRate{BytesPerSec: 8 << 10, Grace: 10 * time.Second}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("dmtp: server closed")

// Server is the receiving half of DMTP. Set its fields, then call Serve;
// do not change them afterwards.
type Server struct {
	Backend   Backend
	TLSConfig *tls.Config // needs a certificate; TLS 1.3 is enforced whatever MinVersion says

	Hostname       string        // the name in the greeting and EHLO reply; os.Hostname() if empty
	MaxMessageSize int64         // the largest DATA accepted, advertised as SIZE; DefaultMaxMessageSize if 0
	ReadTimeout    time.Duration // for each command line; DefaultReadTimeout if 0
	WriteTimeout   time.Duration // for each reply; DefaultWriteTimeout if 0
	DataTimeout    time.Duration // for the whole body of one DATA; DefaultDataTimeout if 0
	// HandshakeTimeout bounds the TLS handshake; DefaultHandshakeTimeout if 0.
	HandshakeTimeout time.Duration
	// MinDataRate is the slowest DATA body accepted (a slower one is
	// answered 421 and the connection closed); DefaultMinDataRate if zero,
	// none if BytesPerSec is negative.
	MinDataRate connguard.MinRate
	MaxConns    int          // connections served at once, beyond which new ones are closed unanswered; DefaultMaxConns if 0
	Logger      *slog.Logger // slog.Default() if nil
	// LookupLimit bounds the look-ups (SGNT, HIST, VRFY, LOG) of one
	// client address, MissLimit those of them answered 550 5.1.1 (a name,
	// fingerprint or record the server does not have): signets are public,
	// but asking for names one after another enumerates the accounts
	// (spec §7). Over either, a look-up is answered 450 4.7.1.
	// DefaultLookupLimit and DefaultMissLimit if zero; a negative Burst
	// switches one off.
	LookupLimit, MissLimit ratelimit.Limit

	initOnce sync.Once
	initErr  error
	cfg      settings

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // one per connection goroutine
	shutting  atomic.Bool
}

// settings are the Server's fields with defaults applied.
type settings struct {
	tls                                    *tls.Config
	hostname                               string
	maxSize                                int64
	readTimeout, writeTimeout, dataTimeout time.Duration
	handshakeTimeout                       time.Duration
	minRate                                connguard.MinRate
	maxConns                               int
	log                                    *slog.Logger
	lookups, misses                        *ratelimit.Limiter
}

func (s *Server) init() error {
	s.initOnce.Do(func() {
		s.initErr = s.configure()
	})
	return s.initErr
}

func (s *Server) configure() error {
	if s.Backend == nil {
		return errors.New("dmtp: Server.Backend is nil")
	}
	t, err := serverTLSConfig(s.TLSConfig)
	if err != nil {
		return err
	}
	c := settings{
		tls:          t,
		hostname:     s.Hostname,
		maxSize:      orDefault(s.MaxMessageSize, DefaultMaxMessageSize),
		readTimeout:  orDefault(s.ReadTimeout, DefaultReadTimeout),
		writeTimeout: orDefault(s.WriteTimeout, DefaultWriteTimeout),
		dataTimeout:  orDefault(s.DataTimeout, DefaultDataTimeout),
		maxConns:     orDefault(s.MaxConns, DefaultMaxConns),
		log:          s.Logger,

		handshakeTimeout: orDefault(s.HandshakeTimeout, DefaultHandshakeTimeout),
		minRate:          s.MinDataRate,
	}
	if c.minRate == (connguard.MinRate{}) {
		c.minRate = DefaultMinDataRate
	}
	c.lookups = ratelimit.New(limitOr(s.LookupLimit, DefaultLookupLimit), nil)
	c.misses = ratelimit.New(limitOr(s.MissLimit, DefaultMissLimit), nil)
	if c.hostname == "" {
		if c.hostname, err = os.Hostname(); err != nil {
			return fmt.Errorf("dmtp: Server.Hostname is empty and os.Hostname failed: %w", err)
		}
	}
	// The name goes into reply lines: one token of printable ASCII that
	// leaves room in a 512-byte line.
	if len(c.hostname) > 255 || strings.ContainsFunc(c.hostname, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return fmt.Errorf("dmtp: Server.Hostname %.40q is not one printable ASCII word of at most 255 bytes", c.hostname)
	}
	if c.maxSize < 0 || c.readTimeout < 0 || c.writeTimeout < 0 || c.dataTimeout < 0 || c.maxConns < 0 || c.handshakeTimeout < 0 || c.minRate.Grace < 0 {
		return errors.New("dmtp: negative Server limit")
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	s.cfg = c
	s.listeners = make(map[*net.Listener]struct{})
	s.conns = make(map[*conn]struct{})
	return nil
}

func limitOr(l, d ratelimit.Limit) ratelimit.Limit {
	if l == (ratelimit.Limit{}) {
		return d
	}
	return l
}

func orDefault[T int | int64 | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

// Serve accepts connections on ln, a plain TCP listener (the server does
// the TLS handshake itself), and serves each in its own goroutine until
// Shutdown, when it returns ErrServerClosed. Serve may run on several
// listeners at once.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.init(); err != nil {
		return err
	}
	if !s.trackListener(&ln, true) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.trackListener(&ln, false)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("dmtp: accept: %w", err)
			}
			// Transient failures such as running out of file descriptors:
			// back off instead of spinning, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.cfg.log.Warn("dmtp: accept failed; retrying", "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.start(nc)
	}
}

func (s *Server) trackListener(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.shutting.Load() {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

// start registers a connection and serves it, unless the server is
// shutting down or full, in which case it closes the connection at once:
// without a TLS session there is no way to send a reply (spec §7).
func (s *Server) start(nc net.Conn) {
	s.mu.Lock()
	if s.shutting.Load() || len(s.conns) >= s.cfg.maxConns {
		full := !s.shutting.Load()
		s.mu.Unlock()
		if full {
			s.cfg.log.Warn("dmtp: connection limit reached; closing new connection", "remote", nc.RemoteAddr(), "max", s.cfg.maxConns)
		}
		nc.Close()
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Shutdown stops the server gracefully: it closes the listeners, so new
// connections are refused; it ends idle connections with "421 4.3.2"; it
// lets every command in progress — a DATA waiting for its body or for the
// Backend to store it — finish and send its reply, then closes that
// connection with 421 too. It returns when every connection is closed, or
// when ctx is done, in which case it closes the remaining connections
// abruptly (a Backend's Data then sees its reader fail) and returns
// ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.mu.Lock()
	s.shutting.Store(true)
	for ln := range s.listeners {
		(*ln).Close()
	}
	for c := range s.conns {
		c.interruptIfIdle()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.cancel()
			c.nc.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}
