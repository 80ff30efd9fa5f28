package mx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"umbra/connguard"
	"umbra/ratelimit"
	"umbra/spool"
)

// Defaults of Config (docs/spec/legacy.md §2.3).
const (
	DefaultMaxMessageSize = 32 << 20
	DefaultMaxRecipients  = 100
	DefaultMaxConns       = 500
	DefaultMaxPerAddr     = 20
	DefaultReadTimeout    = 5 * time.Minute // RFC 5321 §4.5.3.2.7
	DefaultDataTimeout    = 10 * time.Minute
	DefaultMemoryBudget   = 256 << 20
	// maxRefusedRcpts is how many refused recipients one connection may
	// try before it is told 421 and closed: more is address harvesting.
	maxRefusedRcpts = 20
	// maxLineLength is RFC 5321 §4.5.3.1.6's 1000 octets, doubled as
	// Postfix and go-smtp allow for senders that fold badly.
	maxLineLength = 2000
)

// Backend is what the MX needs of its provider. Its methods are called
// concurrently from the connections' goroutines.
type Backend interface {
	// Recipient is asked for each RCPT TO before DATA, with the address as
	// the client gave it: nil accepts it; an *smtp.SMTPError is the reply.
	Recipient(ctx context.Context, address string) error
	// Deliver makes msg durable for every address in rcpts (each one
	// accepted by Recipient, without duplicates) before it returns; only
	// then does the client get 250. msg is the message as received with
	// the MX's Received and Authentication-Results fields prepended, of
	// msg.Size() bytes; it may be read as often as needed (each pass
	// from its own io.NewSectionReader) until Deliver returns. An
	// *smtp.SMTPError is the reply to DATA; any other error is answered
	// 451 and logged.
	Deliver(ctx context.Context, env *Envelope, rcpts []string, msg *io.SectionReader) error
}

// Envelope is what the MX learned of one message besides its content.
type Envelope struct {
	Remote   netip.Addr
	Helo     string
	MailFrom string // "" for the null reverse-path
	TLS      string // "TLS1.3", "TLS1.2", or "" when received in the clear
	Auth     Auth
	Received time.Time
}

// Config configures a Server. Zero values take the defaults.
type Config struct {
	// Hostname is the server's name in the greeting and in Received.
	Hostname string
	// AuthServID is the authserv-id of Authentication-Results (RFC 8601
	// §2.5): the provider's domain. Fields with it that arrive with a
	// message are removed (§5).
	AuthServID string
	// TLSConfig, if set, offers STARTTLS (RFC 3207).
	TLSConfig      *tls.Config
	MaxMessageSize int64         // SIZE (RFC 1870); DefaultMaxMessageSize if 0
	MaxRecipients  int           // per message; DefaultMaxRecipients if 0
	MaxConns       int           // connections at once; DefaultMaxConns if 0
	MaxPerAddr     int           // connections at once per client address; DefaultMaxPerAddr if 0
	ReadTimeout    time.Duration // per command; DefaultReadTimeout if 0
	DataTimeout    time.Duration // for the whole of one message; DefaultDataTimeout if 0
	// Spool holds each message while it arrives and is checked (package
	// spool: in memory, and past its memory bound in a file encrypted
	// under a key only this process holds), shared with the provider's
	// other listeners; a memory-only spool under DefaultMemoryBudget of
	// its own if nil. Over its budgets a message is answered 451.
	Spool *spool.Spool
	// Resolver answers the SPF, DKIM and DMARC look-ups (default
	// net.DefaultResolver).
	Resolver *net.Resolver
	Backend  Backend
	Logger   *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server is a running MX.
type Server struct {
	cfg  Config
	smtp *smtp.Server
	auth checker
	log  *slog.Logger

	// ctx is the parent of every session's work; Shutdown cancels it
	// when its own context ends with deliveries still running.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	ln     *connguard.Listener
	active sync.WaitGroup // messages between DATA and their reply (session.pending)
	closed bool
}

// New checks cfg and returns a Server that listens on nothing until
// Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil || cfg.Hostname == "" || cfg.AuthServID == "" {
		return nil, errors.New("mx: Config needs Backend, Hostname and AuthServID")
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxMessageSize, DefaultMaxMessageSize)
	if cfg.Spool == nil {
		sp, err := spool.New("", 0, connguard.NewBudget(DefaultMemoryBudget), nil)
		if err != nil {
			return nil, err
		}
		cfg.Spool = sp
	}
	for _, x := range []struct {
		v *int
		d int
	}{{&cfg.MaxRecipients, DefaultMaxRecipients}, {&cfg.MaxConns, DefaultMaxConns}, {&cfg.MaxPerAddr, DefaultMaxPerAddr}} {
		if *x.v <= 0 {
			*x.v = x.d
		}
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = DefaultDataTimeout
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:  cfg,
		auth: checker{res: cfg.Resolver},
		log:  cfg.Logger.With("listener", "mx"),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = cfg.Hostname
	srv.TLSConfig = cfg.TLSConfig
	srv.MaxMessageBytes = cfg.MaxMessageSize
	srv.MaxRecipients = cfg.MaxRecipients
	srv.MaxLineLength = maxLineLength
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = time.Minute
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogLogger{s.log}
	s.smtp = srv
	return s, nil
}

// Serve accepts connections on ln until Shutdown. It returns nil after
// Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	gl := connguard.Wrap(ln, connguard.Limits{MaxConns: s.cfg.MaxConns, MaxPerAddr: s.cfg.MaxPerAddr}, refuse)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		// Shutdown ran before this goroutine did (a provider stopped
		// just after it started): the listener is still ours to close,
		// or its port stays bound.
		return ln.Close()
	}
	s.ln = gl
	s.mu.Unlock()
	err := s.smtp.Serve(gl)
	if s.isClosed() {
		return nil
	}
	return err
}

// refuse answers a connection over a limit (RFC 5321 §3.1: 421 at
// greeting).
func refuse(c net.Conn, why connguard.Refusal) {
	fmt.Fprintf(c, "421 4.7.0 %s, try again later\r\n", why)
}

// begin counts a message in active unless Shutdown has begun. Add and
// Shutdown's Wait are ordered by mu: a WaitGroup must not go up from zero
// while Wait runs (sync.WaitGroup's contract), and a connection accepted
// before Shutdown may still send DATA after it.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.active.Add(1)
	return true
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Stats are the listener's connection counters.
func (s *Server) Stats() connguard.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return connguard.Stats{}
	}
	return s.ln.Stats()
}

// Shutdown stops accepting connections, waits until every message being
// received has been answered or ctx ends, then closes every connection.
// Deliveries still running then are cancelled, and Shutdown returns only
// after the last of them has returned: the store may be closed after it.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel()
	}
	// The listener is closed already: go-smtp's Close closing it again
	// is no news.
	if cerr := s.smtp.Close(); cerr != nil && !errors.Is(cerr, smtp.ErrServerClosed) && !errors.Is(cerr, net.ErrClosed) {
		err = errors.Join(err, cerr)
	}
	<-done
	s.cancel()
	return err
}

// slogLogger carries go-smtp's own complaints (a broken connection, a
// failed handshake: the client's doing) to slog at DEBUG.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	l.l.Debug("smtp: connection error", "detail", fmt.Sprintf(format, v...), ratelimit.ClientFault)
}
func (l slogLogger) Println(v ...any) {
	l.l.Debug("smtp: connection error", "detail", fmt.Sprint(v...), ratelimit.ClientFault)
}
