package imapd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/imapserver"
	"umbra/bridge/mailstore"
	"umbra/ratelimit"
	"umbra/wiretrace"
)

// appendLimit is the largest message APPEND accepts (RFC 7889
// APPENDLIMIT). It bounds the memory one APPEND can take, since the whole
// message is read before it is stamped and stored.
const appendLimit = 64 << 20

// Options configures a Server.
type Options struct {
	Store    *mailstore.Store
	Username string // the account address
	Password string // the bridge's generated password (compared in constant time)
	// TLSConfig enables STARTTLS when non-nil.
	TLSConfig *tls.Config
	// Stamp removes from an APPENDed message what a client must not
	// supply (the bridge: any Umbra-Security field) and prepends one
	// header line of its own. Its output is stored only if it removed
	// something; otherwise the client's bytes are stored unchanged
	// (session.stamped). nil stores messages as they are.
	Stamp func([]byte) []byte
	// NewKey returns a fresh message key for APPEND and COPY; nil uses 128
	// random bits.
	NewKey func() string
	Logger *slog.Logger // nil: discard
	// Guard slows and caps password guessing (shared with the bridge's
	// SMTP: every client is on loopback); nil: a guard of its own with
	// ratelimit.DefaultGuardLimit.
	Guard *ratelimit.Guard
}

// Server is the IMAP server of one account.
type Server struct {
	opts   Options
	store  *mailstore.Store
	log    *slog.Logger
	imap   *imapserver.Server
	cancel func() // ends the store subscription

	guard *ratelimit.Guard

	// ctx is cancelled by Close, ending store calls of open sessions.
	ctx       context.Context
	ctxCancel context.CancelFunc
	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex
	boxes  map[int64]*mailbox    // loaded mailboxes, by store id: selected, or idle
	authed map[*session]struct{} // sessions logged in, ended by SetPassword
	// idle are the loaded mailboxes no session has selected, least
	// recently released first, at most maxIdleBoxes: kept current by
	// onEvent like the selected ones, so that selecting one again needs no
	// listing of its messages (a SELECT of 10,000 messages spent most of
	// its time there).
	idle []*mailbox

	password atomic.Pointer[string] // the one LOGIN accepts (SetPassword)
}

// New returns a server for o; it serves nothing until Serve.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("imapd: Options.Store is nil")
	}
	if o.Username == "" || o.Password == "" {
		return nil, errors.New("imapd: Options.Username and Options.Password are required")
	}
	if o.NewKey == nil {
		o.NewKey = rand.Text
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Guard == nil {
		o.Guard = ratelimit.NewGuard(ratelimit.DefaultGuardLimit, nil)
	}
	s := &Server{
		opts:   o,
		guard:  o.Guard,
		store:  o.Store,
		log:    o.Logger,
		boxes:  make(map[int64]*mailbox),
		authed: make(map[*session]struct{}),
	}
	s.password.Store(&o.Password)
	s.ctx, s.ctxCancel = context.WithCancel(context.Background())
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: s.newSession,
		Caps:       capabilities(),
		Logger:     printfLogger{s.log},
		TLSConfig:  o.TLSConfig,
		// The bridge listens on loopback only; a client that cannot do
		// STARTTLS must still be able to log in (RFC 9051 §11.1 leaves
		// this to local policy).
		InsecureAuth: true,
		// At --log-level trace, the lines of each conversation, without
		// passwords or mail (wiretrace).
		Trace: func(c net.Conn) *wiretrace.Trace {
			return wiretrace.New(s.log.With("remote", c.RemoteAddr().String()), wiretrace.IMAP())
		},
	})
	s.cancel = o.Store.Subscribe(s.onEvent)
	return s, nil
}

// capabilities lists what the server advertises beyond what imapserver
// adds by itself (IDLE, UNSELECT, ENABLE, SASL-IR, LITERAL-, AUTH=PLAIN,
// STARTTLS, APPENDLIMIT=n from SessionAppendLimit). LITERAL+ is not
// advertised: LITERAL- comes with IMAP4rev1, and a server offers one of
// the two (RFC 7888 §5).
func capabilities() imap.CapSet {
	return imap.CapSet{
		imap.CapIMAP4rev1:               {},
		imap.CapIMAP4rev2:               {},
		imap.CapNamespace:               {},
		imap.CapUIDPlus:                 {},
		imap.CapESearch:                 {},
		imap.CapSearchRes:               {},
		imap.CapListExtended:            {},
		imap.CapListStatus:              {},
		imap.CapMove:                    {},
		imap.CapStatusSize:              {},
		imap.CapBinary:                  {},
		imap.CapChildren:                {},
		imap.CapSpecialUse:              {},
		imap.CapID:                      {},
		imap.CapCondStore:               {},
		imap.CapQResync:                 {},
		imap.CapSort:                    {},
		imap.CapSortDisplay:             {},
		imapserver.ThreadOrderedSubject: {},
		imapserver.ThreadReferences:     {},
	}
}

// Serve accepts connections on ln until Close, then returns nil; it may
// be called for several listeners.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.imap.Serve(ln); err != nil {
		if s.ctx.Err() != nil {
			// Closed before this Serve began: nothing to serve.
			ln.Close()
			return nil
		}
		return fmt.Errorf("imapd: serve: %w", err)
	}
	return nil
}

// Close closes the listeners and every open connection, and stops
// following the store. The store itself stays open (it belongs to the
// caller).
// Closing twice is harmless.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.ctxCancel()
		s.cancel()
		if err := s.imap.Close(); err != nil {
			s.closeErr = fmt.Errorf("imapd: close: %w", err)
		}
	})
	return s.closeErr
}

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	return &session{srv: s, conn: c, remote: c.NetConn().RemoteAddr().String()}, nil, nil
}

// SetPassword makes p the password LOGIN accepts, and ends every session
// logged in with the one before: after a rotation (`umbra bridge password
// rotate`) a client holding the old password keeps nothing. The clients
// reconnect and are asked for the new one.
func (s *Server) SetPassword(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.password.Store(&p)
	for ss := range s.authed {
		// Closing the socket ends the session's goroutine; a BYE written
		// from here would race with its own writes.
		_ = ss.conn.NetConn().Close()
		delete(s.authed, ss)
	}
}

// onEvent is the store's Subscribe callback. It runs synchronously inside
// the store's mutating call, in commit order, so it only touches memory.
func (s *Server) onEvent(ev mailstore.Event) {
	if ev.Kind == mailstore.MailboxesChanged {
		return // LIST and STATUS always ask the store
	}
	s.mu.Lock()
	b := s.boxes[ev.MailboxID]
	s.mu.Unlock()
	if b != nil {
		b.apply(ev)
	}
}

// openMailbox returns the shared view of the store mailbox id, loading it
// on first use. The caller must call closeMailbox once done.
func (s *Server) openMailbox(ctx context.Context, id int64) (*mailbox, error) {
	s.mu.Lock()
	b := s.boxes[id]
	if b != nil {
		if b.refs == 0 {
			s.idle = slices.DeleteFunc(s.idle, func(x *mailbox) bool { return x == b })
		}
		b.refs++
		s.mu.Unlock()
		<-b.ready
		if b.loadErr != nil {
			s.closeMailbox(b)
			return nil, b.loadErr
		}
		return b, nil
	}
	// Registering the mailbox before listing it makes onEvent buffer
	// every event committed from now on; load replays them over the
	// listing, so nothing between the two is lost.
	b = newMailbox(id)
	b.refs = 1
	s.boxes[id] = b
	s.mu.Unlock()

	b.loadErr = b.load(ctx, s.store)
	close(b.ready)
	if b.loadErr != nil {
		s.closeMailbox(b)
		return nil, b.loadErr
	}
	return b, nil
}

// maxIdleBoxes bounds the loaded mailboxes kept without a session.
const maxIdleBoxes = 4

// closeMailbox drops one reference to b. With the last one, b stays
// loaded, idle, unless it failed to load; the least recently released
// idle mailbox beyond maxIdleBoxes is forgotten.
func (s *Server) closeMailbox(b *mailbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b.refs--
	if b.refs > 0 || s.boxes[b.id] != b {
		return
	}
	if b.loadErr != nil {
		delete(s.boxes, b.id)
		return
	}
	s.idle = append(s.idle, b)
	if len(s.idle) > maxIdleBoxes {
		old := s.idle[0]
		s.idle = s.idle[1:]
		delete(s.boxes, old.id)
	}
}

// noteMessage gives a loaded mailbox the details of a message this server
// just added to it (APPEND, COPY, MOVE), saving a store listing later.
func (s *Server) noteMessage(m mailstore.Message) {
	s.mu.Lock()
	b := s.boxes[m.MailboxID]
	s.mu.Unlock()
	if b != nil {
		b.fill(m)
	}
}

// printfLogger adapts slog to imapserver.Logger.
type printfLogger struct{ l *slog.Logger }

func (p printfLogger) Printf(format string, args ...any) {
	p.l.Warn("imapd: " + fmt.Sprintf(format, args...))
}

// ClientFaultf logs what a client's connection caused at INFO, rate-limited
// as a client fault (ratelimit.LogHandler).
func (p printfLogger) ClientFaultf(format string, args ...any) {
	p.l.Info("imapd: "+fmt.Sprintf(format, args...), ratelimit.ClientFault)
}
