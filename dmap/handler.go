package dmap

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"

	"umbra/connguard"
	"umbra/ratelimit"
	"umbra/signet"
	"umbra/spool"
	"umbra/wiretrace"
)

// BasePath is the prefix of every DMAP endpoint (spec §2.1).
const BasePath = "/dmap/v1/"

// Body limits (spec §2.5).
const (
	MaxJSON        = 16 << 10 // a control request
	MaxBackupJSON  = 2 << 20  // register and key backup requests, which carry a vault (≤ 1 MiB) in base64
	DefaultMaxDoc  = 64 << 20 // a document
	DefaultMaxSend = 64 << 20 // a message to send (dmtp.DefaultMaxMessageSize)
	MaxPage        = 1000     // changes per page
	DefaultPage    = 500
	MaxHistoryPage = 64 // signets per history answer (dmtp.MaxHistory)
)

// DefaultBodyRate is the slowest request body a handler waits for by
// default: on average 8 KiB/s once 10 s have passed, as DMTP's DATA.
var DefaultBodyRate = connguard.MinRate{BytesPerSec: 8 << 10, Grace: 10 * time.Second}

// Options configure Handler. Zero values take the defaults in brackets.
type Options struct {
	// Domain is the provider's domain (required): the only domain whose
	// accounts it serves, and part of every signed proof (spec §4.2).
	Domain string
	// AccessTTL [15 min], RefreshTTL [30 days], ChallengeTTL [1 min].
	AccessTTL, RefreshTTL, ChallengeTTL time.Duration
	// MaxWait bounds a changes long-poll [60 s]. The http.Server's
	// WriteTimeout, if any, must be longer.
	MaxWait time.Duration
	// MaxDocument [DefaultMaxDoc] and MaxMessage [DefaultMaxSend] bound
	// PUT /docs and POST /send bodies.
	MaxDocument, MaxMessage int64
	// BodyRate [DefaultBodyRate] is the slowest request body accepted and
	// BodyTimeout [10 min] the longest (spec §2.5): a slower or longer one
	// is answered 408 too_slow. BodyRate.BytesPerSec < 0 switches the
	// rate off.
	BodyRate    connguard.MinRate
	BodyTimeout time.Duration
	// Spool holds request bodies while they arrive and are handled
	// (package spool: memory that grows as the bytes arrive, past the
	// spool's bound a file encrypted under a key only this process
	// holds), within its budgets; a body that does not fit is answered
	// 503 unavailable. [nil: a spool of its own in memory, unbounded]
	Spool *spool.Spool
	// AddressLimit [30, one per 10 s] limits failed proofs (login,
	// enroll, key backup) per client address; KeyLimit [10, one per
	// minute] failed logins and enrolments per device key; AccountLimit
	// [10, one per minute] failed key-backup fetches per account, the one
	// proof that checks a password (spec §4.5). ChallengeLimit [60, ten per
	// second] limits issued challenges per client address.
	AccountLimit, AddressLimit, KeyLimit, ChallengeLimit Limit
	// SharedBuckets, if set, keeps the failed-proof limits (account,
	// address, key) in the buckets it returns for each limit's name:
	// those of a database that several nodes of the domain share, so a
	// guesser gains nothing by spreading guesses over the nodes. nil:
	// in this process's memory.
	SharedBuckets func(name string, l Limit) ratelimit.Buckets
	// ClientAddress returns the client's address for rate limiting
	// [RemoteAddr's host, IPv6 reduced to its /64]. Set it behind a
	// reverse proxy.
	ClientAddress func(*http.Request) string
	// DecoyKey keys the decoy salts served for addresses without a key
	// backup (spec §6.3) [random per Handler; set it, the same on every
	// node, so that decoys do not change across restarts and nodes].
	DecoyKey []byte
	Logger   *slog.Logger
	// Now is the clock [time.Now].
	Now func() time.Time
}

func (o *Options) setDefaults() error {
	if err := signet.CheckDomain(o.Domain); err != nil {
		return fmt.Errorf("dmap: Options.Domain: %w", err)
	}
	dur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	dur(&o.AccessTTL, 15*time.Minute)
	dur(&o.RefreshTTL, 30*24*time.Hour)
	dur(&o.ChallengeTTL, time.Minute)
	dur(&o.MaxWait, time.Minute)
	dur(&o.BodyTimeout, 10*time.Minute)
	if o.BodyRate == (connguard.MinRate{}) {
		o.BodyRate = DefaultBodyRate
	}
	if o.MaxDocument <= 0 {
		o.MaxDocument = DefaultMaxDoc
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxSend
	}
	if o.Spool == nil {
		sp, err := spool.New("", 0, nil, nil)
		if err != nil {
			return err
		}
		o.Spool = sp
	}
	lim := func(l *Limit, burst int, every time.Duration) {
		if l.Burst == 0 {
			l.Burst = burst
		}
		if l.Every <= 0 {
			l.Every = every
		}
	}
	lim(&o.AccountLimit, 10, time.Minute)
	lim(&o.KeyLimit, 10, time.Minute)
	lim(&o.AddressLimit, 30, 10*time.Second)
	lim(&o.ChallengeLimit, 60, 100*time.Millisecond)
	if o.ClientAddress == nil {
		o.ClientAddress = remoteHost
	}
	if o.DecoyKey == nil {
		o.DecoyKey = make([]byte, 32)
		if _, err := rand.Read(o.DecoyKey); err != nil {
			return fmt.Errorf("dmap: decoy key: %w", err)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// remoteHost is the default ClientAddress: the host of RemoteAddr, an IPv6
// address reduced to its /64 (one customer's allocation).
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return host
}

// handler serves DMAP for one provider.
type handler struct {
	b    Backend
	o    Options
	mux  *http.ServeMux
	acct ratelimit.Buckets  // failed key-backup proofs per account
	addr ratelimit.Buckets  // failed proofs per client address
	keys ratelimit.Buckets  // failed login and enrol proofs per device key
	chal *ratelimit.Limiter // challenges per client address: this node's memory, which it protects

	tunnels tunnelCounts // look-up tunnels open per account
}

// Handler returns the DMAP http.Handler for b. Mount it at the server's
// root (its patterns include BasePath). Serve it over TLS 1.3 with HTTP/2
// (NewServer).
func Handler(b Backend, opts Options) (http.Handler, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	h := &handler{
		b:    b,
		o:    opts,
		mux:  http.NewServeMux(),
		acct: opts.buckets("account", opts.AccountLimit),
		addr: opts.buckets("address", opts.AddressLimit),
		keys: opts.buckets("key", opts.KeyLimit),
		chal: ratelimit.New(opts.ChallengeLimit, opts.Now),
	}
	h.routes()
	return h, nil
}

// routes registers every endpoint of spec §2.2. Each path also gets a
// method-less pattern that answers 405 in JSON, and "/" answers 404.
func (h *handler) routes() {
	type route struct {
		method, path string
		fn           http.HandlerFunc
	}
	table := []route{
		{"POST", "register", h.register},
		{"POST", "challenge", h.challenge},
		{"POST", "login", h.login},
		{"POST", "refresh", h.refresh},
		{"POST", "enroll", h.enroll},
		{"POST", "keybackup/challenge", h.backupChallenge},
		{"POST", "keybackup/fetch", h.backupFetch},
		{"PUT", "keybackup", h.authed(h.putBackup)},
		{"GET", "devices", h.authed(h.devices)},
		{"PATCH", "devices/{id}", h.authed(h.renameDevice)},
		{"DELETE", "devices/{id}", h.authed(h.revokeDevice)},
		{"GET", "changes", h.authed(h.changes)},
		{"GET", "docs/{id}", h.authed(h.getDoc)},
		{"PUT", "docs/{id}", h.authed(h.putDoc)},
		{"DELETE", "docs/{id}", h.authed(h.deleteDoc)},
		{"POST", "send", h.authed(h.send)},
		{"POST", "legacy", h.authed(h.sendLegacy)},
		{"GET", "signet", h.authed(h.signet)},
		{"GET", "history", h.authed(h.history)},
		{"POST", "tunnel", h.authed(h.tunnel)},
		{"GET", "log", h.authed(h.log)},
		{"POST", "rotate", h.authed(h.rotate)},
	}
	paths := map[string]bool{}
	for _, r := range table {
		h.mux.HandleFunc(r.method+" "+BasePath+r.path, r.fn)
		if !paths[r.path] {
			paths[r.path] = true
			h.mux.HandleFunc(BasePath+r.path, func(w http.ResponseWriter, _ *http.Request) {
				h.fail(w, ErrMethodNotAllowed)
			})
		}
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { h.fail(w, ErrNotFound) })
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Tokens and documents must never sit in a shared cache (RFC 9111
	// §5.2.2.5), and nothing is to be sniffed into another type.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Everything a request tells the provider but its body and tokens:
	// what an operator's debug log shows.
	h.o.Logger.Debug("dmap: request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery, "client", h.o.ClientAddress(r))
	if h.o.Logger.Enabled(r.Context(), wiretrace.LevelTrace) {
		h.traced(w, r, h.mux)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// fail writes err as the JSON error of spec §3. Errors that are not
// *Error are logged and answered 500 without detail.
func (h *handler) fail(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			e = ErrUnavailable.With("the request was cancelled or timed out")
		} else {
			h.o.Logger.Error("dmap: backend error", "err", err)
			e = errInternal
		}
	}
	hd := w.Header()
	if e.RetryAfter > 0 {
		hd.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	if e.Status == http.StatusUnauthorized {
		hd.Set("WWW-Authenticate", `Bearer realm="dmap"`)
	}
	writeJSON(w, e.Status, errorBody{Code: e.Code, Message: e.Message, Current: e.Current})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The connection may be gone; the client then learns nothing either way.
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads a request body of at most limit bytes whose media type
// must be mediaType: 415 for another type, 413 as soon as the declared
// length or the bytes read pass the limit, without reading further. The
// body must come at the handler's minimum rate and within its timeout
// (408 too_slow), and it waits in the spool as it arrives, within the
// spool's budgets (503 unavailable when they are used up); data reads it
// back, as often as needed. release lets go of it: call it once data is
// no longer needed.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request, mediaType string, limit int64) (data *io.SectionReader, release func(), err error) {
	release = func() {}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != mediaType {
		return nil, release, ErrUnsupportedMedia.With("Content-Type must be %s", mediaType)
	}
	if r.ContentLength > limit {
		return nil, release, ErrTooLarge.With("%d bytes declared, limit %d", r.ContentLength, limit)
	}
	size := limit
	if r.ContentLength >= 0 {
		size = r.ContentLength
	}
	rc := http.NewResponseController(w)
	body := connguard.NewRateReader(http.MaxBytesReader(w, r.Body, limit), rc.SetReadDeadline, h.o.BodyRate, time.Now().Add(h.o.BodyTimeout))
	sb := h.o.Spool.Body(size)
	release = func() { sb.Close() }
	if _, err = io.Copy(sb, body); err == nil {
		data, err = sb.Reader()
	}
	// The deadline must not outlive the body: net/http watches an
	// HTTP/1 connection for a close while the handler runs, and a
	// deadline passing then would cancel the request.
	_ = rc.SetReadDeadline(time.Time{})
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return data, release, nil
	case errors.As(err, &mbe), errors.Is(err, spool.ErrTooLong):
		err = ErrTooLarge.With("over the %d-byte limit", limit)
	case errors.Is(err, connguard.ErrTooSlow):
		h.o.Logger.Debug("dmap: request body too slow", "path", r.URL.Path, "client", h.o.ClientAddress(r), "err", err, ratelimit.ClientFault)
		err = ErrTooSlow.With("the body must come within %v, at %v", h.o.BodyTimeout, h.o.BodyRate)
	case errors.Is(err, connguard.ErrBudget):
		h.o.Logger.Info("dmap: request body refused: the spool is full", "path", r.URL.Path, "size", size, ratelimit.ClientFault)
		e := ErrUnavailable.With("the server is receiving too much at once; retry shortly")
		e.RetryAfter = time.Second
		err = e
	default:
		// The client went away or broke the connection: its fault or the
		// network's, never the server's (issue 11: no ERROR for it).
		h.o.Logger.Debug("dmap: request body cut short", "path", r.URL.Path, "client", h.o.ClientAddress(r), "err", err, ratelimit.ClientFault)
		err = ErrBadField.With("the body ended before its end: %v", err)
	}
	if r.ProtoMajor == 1 {
		// The rest of the body is not read: net/http would otherwise try
		// to read it before answering, to keep the connection (RFC 9112
		// §9.6). HTTP/2 resets just the stream, and must not be told
		// this, which would end every stream of the connection.
		w.Header().Set("Connection", "close")
	}
	release()
	return nil, func() {}, err
}

// readJSON reads and decodes a JSON control request with decode.
func readJSON[T any](h *handler, w http.ResponseWriter, r *http.Request, limit int64, decode func([]byte) (T, error)) (T, error) {
	var zero T
	body, release, err := h.readBody(w, r, "application/json", limit)
	defer release()
	if err != nil {
		return zero, err
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return zero, err
	}
	return decode(data)
}

// checkDomain refuses addresses of other domains: this provider serves
// only its own accounts.
func (h *handler) checkDomain(address string) error {
	if signet.DomainOf(address) != h.o.Domain {
		return ErrBadField.With("address %q is not of this provider's domain %s", clip(address, 80), h.o.Domain)
	}
	return nil
}

// seconds is a duration in whole seconds, rounded down.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// Limit configures one of Options' rate limits (spec §4.5): Burst
// attempts at once, then one more every Every; a zero Limit takes the
// field's default, a negative Burst switches it off.
type Limit = ratelimit.Limit

// buckets returns the buckets of the failed-proof limit name.
func (o *Options) buckets(name string, l Limit) ratelimit.Buckets {
	if o.SharedBuckets != nil {
		return o.SharedBuckets(name, l)
	}
	return ratelimit.New(l, o.Now)
}
