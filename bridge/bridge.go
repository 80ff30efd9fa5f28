package bridge

import (
	"context"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"umbra/bridge/imapd"
	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
	"umbra/dnsrec"
	"umbra/pgp"
	"umbra/ratelimit"
	"umbra/signet"
	"umbra/vault"
	"umbra/wkd"
)

// Files the bridge keeps in the account directory beside the vault. Only
// the CA certificate is readable: everything else, the CA's key too, is
// inside the store.
const (
	StoreFile  = "mail.db"
	CertFile   = "bridge.crt" // the account's CA certificate (cert.go), for `umbra bridge cert export`
	SocketFile = "bridge.sock"
)

// Default listen addresses (DESIGN §9).
const (
	DefaultIMAP = "127.0.0.1:1143"
	DefaultSMTP = "127.0.0.1:1025"
)

// Config is what a bridge needs to run.
type Config struct {
	Dir      string       // the account directory
	Keys     *vault.Keys  // the unlocked vault; the bridge keeps it until Close
	DeviceID string       // this device's id at the provider
	Client   *dmap.Client // logged in with Keys.Device
	Resolver *dnsrec.Resolver
	// IMAP and SMTP are the listen addresses; a taken port moves to the
	// next free one (up to 20 further). Empty: the defaults. An address
	// on loopback is served on both 127.0.0.1 and ::1 (listen.go).
	IMAP, SMTP string
	// IMAPS, when not empty, is the listen address of IMAP over implicit
	// TLS (RFC 8314 §3.2), the same way.
	IMAPS string
	// Wait is the long-poll wait of the change feed (default 30 s).
	Wait time.Duration
	// DarkOnly, when set, changes the account's dark-only setting (kept
	// in the store): refuse to send anything not end-to-end encrypted.
	// Nil keeps the stored setting (off for a new account).
	DarkOnly *bool
	// WKD looks up the OpenPGP keys of legacy correspondents (wkd.go);
	// nil: over HTTPS, host names resolved by Resolver.
	WKD *wkd.Client
	// SafeHTML, when set, changes the account's safe-HTML setting (kept
	// in the store; safehtml.go): "legacy" (the default), "all" or "off".
	SafeHTML *string
	// SaveKeys saves keys in the account's vault (and its key backup),
	// for keys another device rotated to (keyring.go). Nil: such keys are
	// not taken, and this device cannot open mail sealed to them.
	SaveKeys func(keys *vault.Keys) error
	// Now is the bridge's clock (default time.Now), as provider.Config's
	// is the provider's: the one clock of what the bridge decides by time
	// (trust, retries, caches, stamps). TLS and socket deadlines keep the
	// system's.
	Now    func() time.Time
	Logger *slog.Logger
}

// Bridge is one running bridge.
type Bridge struct {
	cfg      Config
	address  string
	log      *slog.Logger
	store    *mailstore.Store
	sealer   *syncdoc.Sealer
	dir      *Directory
	auditMu  sync.Mutex             // one audit at a time (audit.go)
	password atomic.Pointer[string] // the bridge password (password.go)
	certs    *certs
	imap     *imapd.Server
	smtp     *submission
	imapLns  listeners
	smtpLns  listeners
	imapsLns listeners
	statusLn net.Listener

	pushWake, outboxWake chan struct{}
	sync                 *syncEngine // sync.go

	// doomed holds the folders deleted elsewhere, to delete once empty
	// (folders.go); only the pull goroutine uses it.
	doomed map[string]bool

	// pgpKey is the account's OpenPGP key for legacy mail; pgpMade says
	// Open made it (openpgp.go).
	pgpKey   *pgp.Key
	pgpMade  bool
	darkOnly atomic.Bool
	wkd      *wkd.Client
	peerMu   sync.Mutex   // correspondents' OpenPGP state (updatePeer)
	spam     *spamFilter  // spam.go
	safeHTML atomic.Value // safehtml.go: the safe-HTML setting, a string

	// keysMu guards the fields of cfg.Keys that a rotation on another
	// device replaces (Signing, Encryption, Retired; keyring.go), and
	// decKeys, their expanded decryption keys (nil: not expanded yet).
	keysMu      sync.RWMutex
	decKeys     []hpke.PrivateKey
	adoptMu     sync.Mutex      // one adoption of another device's keys at a time
	ctx         context.Context // the bridge's lifetime (Open to Close)
	cancel      context.CancelFunc
	guard       *ratelimit.Guard // password guessing at IMAP and SMTP
	wg          sync.WaitGroup
	unsubscribe func()

	st status
}

// Open opens the account's local store and prepares the servers; Start
// runs them.
func Open(cfg Config) (*Bridge, error) {
	if cfg.Keys == nil {
		return nil, errors.New("bridge: no keys")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IMAP == "" {
		cfg.IMAP = DefaultIMAP
	}
	if cfg.SMTP == "" {
		cfg.SMTP = DefaultSMTP
	}
	b := &Bridge{
		cfg: cfg, address: cfg.Keys.Address, log: cfg.Logger.With("account", cfg.Keys.Address),
		pushWake: make(chan struct{}, 1), outboxWake: make(chan struct{}, 1),
	}
	b.sync = newSyncEngine(b)
	var err error
	if b.store, err = openStore(cfg.Dir, cfg.Keys); err != nil {
		return nil, err
	}
	b.dir = NewDirectory(cfg.Client, cfg.Resolver, signet.DomainOf(cfg.Keys.Address), b.store)
	b.dir.now = cfg.Now
	b.dir.log = b.log
	// The bridge's lifetime: Close cancels it. Servers whose libraries
	// give no context per connection (go-smtp) wait on it.
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.guard = ratelimit.NewGuard(ratelimit.DefaultGuardLimit, nil)
	b.dir.onDowngrade = b.downgradeNotice
	if b.wkd = cfg.WKD; b.wkd == nil {
		if b.wkd, err = newWKDClient(cfg.Resolver); err != nil {
			b.store.Close()
			return nil, err
		}
	}
	if b.pgpKey, b.pgpMade, err = EnsureOpenPGPKey(cfg.Keys, cfg.Now()); err != nil {
		b.store.Close()
		return nil, err
	}
	if err := b.prepare(); err != nil {
		b.store.Close()
		return nil, err
	}
	return b, nil
}

// openStore opens the local store of the account in dir, encrypted with a
// key derived from the storage key.
func openStore(dir string, keys *vault.Keys) (*mailstore.Store, error) {
	if len(keys.Storage) != 32 {
		return nil, errors.New("bridge: the account has no storage key (make it with `umbra account create` or `recover`)")
	}
	storeKey, err := derive(keys.Storage, "umbra bridge store v1", 32)
	if err != nil {
		return nil, err
	}
	s, err := mailstore.Open(filepath.Join(dir, StoreFile), storeKey)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	return s, nil
}

// prepare readies what the servers need from the open store.
func (b *Bridge) prepare() error {
	var err error
	if b.sealer, err = syncdoc.NewSealer(b.cfg.Keys.Storage); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	if _, err := b.loadPassword(context.Background()); err != nil {
		return err
	}
	if b.certs, err = loadCerts(context.Background(), b.store, b.cfg.Dir, b.log); err != nil {
		return err
	}
	if err := b.loadDarkOnly(context.Background()); err != nil {
		return err
	}
	if err := b.loadSafeHTML(context.Background()); err != nil {
		return err
	}
	if err := b.loadSpam(context.Background()); err != nil {
		return err
	}
	return b.loadDoomed(context.Background())
}

// derive is HKDF-SHA256 (RFC 5869) of the storage key for one purpose.
func derive(storage []byte, info string, n int) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, storage, nil, info, n)
	if err != nil {
		return nil, fmt.Errorf("bridge: derive %s: %w", info, err)
	}
	return k, nil
}

// Start listens and starts syncing. It returns once the listeners are
// bound: IMAPAddrs, SMTPAddrs and IMAPSAddrs then say where.
func (b *Bridge) Start() error {
	tlsConfig := &tls.Config{GetCertificate: b.certs.getCertificate, MinVersion: tls.VersionTLS12}
	var err error
	if b.imap, err = imapd.New(imapd.Options{
		Store: b.store, Username: b.address, Password: b.MailPassword(), TLSConfig: tlsConfig,
		Stamp:  func(m []byte) []byte { return stamp(m, verdictAppended) },
		NewKey: syncdoc.NewKey, Logger: b.log.With("server", "imap"), Guard: b.guard,
	}); err != nil {
		return err
	}
	b.smtp = newSubmission(b, tlsConfig)
	if err := b.listen(tlsConfig); err != nil {
		return err
	}
	ctx := b.ctx
	b.unsubscribe = b.store.Subscribe(func(ev mailstore.Event) {
		if ev.Origin == mailstore.Local {
			wake(b.pushWake)
		}
	})
	for _, ln := range b.imapLns {
		b.run(func() { b.serveErr("imap", b.imap.Serve(ln)) })
	}
	for _, ln := range b.imapsLns {
		b.run(func() { b.serveErr("imaps", b.imap.Serve(ln)) })
	}
	for _, ln := range b.smtpLns {
		b.run(func() { b.serveErr("smtp", b.smtp.srv.Serve(ln)) })
	}
	b.run(func() { b.serveStatus(ctx) })
	b.run(func() { b.sync.loop(ctx) })
	b.run(func() { b.sync.pushLoop(ctx) })
	b.run(func() { b.outboxLoop(ctx) })
	// `umbra import` writes to the store from its own process while the
	// bridge runs; this makes the push loop and IMAP clients see it.
	b.run(func() { b.watchOthers(ctx) })
	// Subscribed here, not in the goroutine, so that no move a client
	// makes right after Start goes untrained.
	cancelSpam := b.subscribeSpam()
	b.run(func() {
		defer cancelSpam()
		b.spamLoop(ctx)
	})
	return nil
}

func (b *Bridge) run(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

func (b *Bridge) serveErr(name string, err error) {
	if err != nil && !errors.Is(err, net.ErrClosed) {
		b.log.Error("server stopped", "server", name, "err", err)
	}
}

// wake signals a loop without blocking: one pending signal is enough.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// listen binds the IMAP, SMTP, implicit-TLS IMAP and status sockets, or
// none.
func (b *Bridge) listen(tlsConfig *tls.Config) (err error) {
	defer func() {
		if err != nil {
			b.imapLns.close()
			b.smtpLns.close()
			b.imapsLns.close()
		}
	}()
	if b.imapLns, err = listenLoopback(b.cfg.IMAP, b.log); err != nil {
		return fmt.Errorf("bridge: IMAP: %w", err)
	}
	if b.smtpLns, err = listenLoopback(b.cfg.SMTP, b.log); err != nil {
		return fmt.Errorf("bridge: SMTP: %w", err)
	}
	if b.cfg.IMAPS != "" {
		if b.imapsLns, err = listenLoopback(b.cfg.IMAPS, b.log); err != nil {
			return fmt.Errorf("bridge: IMAPS: %w", err)
		}
		// Implicit TLS: the handshake comes first, before the greeting
		// (RFC 8314 §3.2).
		for i, ln := range b.imapsLns {
			b.imapsLns[i] = tls.NewListener(ln, tlsConfig)
		}
	}
	b.statusLn, err = listenStatus(filepath.Join(b.cfg.Dir, SocketFile))
	return err
}

// IMAPAddr and SMTPAddr are the main bound listen addresses (on
// 127.0.0.1 by default).
func (b *Bridge) IMAPAddr() string { return b.imapLns[0].Addr().String() }
func (b *Bridge) SMTPAddr() string { return b.smtpLns[0].Addr().String() }

// IMAPAddrs, SMTPAddrs and IMAPSAddrs are all the bound listen addresses
// of each server (IMAPSAddrs none without Config.IMAPS).
func (b *Bridge) IMAPAddrs() []string  { return b.imapLns.addrs() }
func (b *Bridge) SMTPAddrs() []string  { return b.smtpLns.addrs() }
func (b *Bridge) IMAPSAddrs() []string { return b.imapsLns.addrs() }

// Username and Password are what a mail client logs in with.
func (b *Bridge) Username() string     { return b.address }
func (b *Bridge) MailPassword() string { return *b.password.Load() }

// Store is the local store (tests and benchmarks look into it).
func (b *Bridge) Store() *mailstore.Store { return b.store }

// Close stops the servers and loops and closes the store. Mail acknowledged
// to a client is in the store's outbox and goes on the next start.
func (b *Bridge) Close() error {
	b.cancel()
	if b.statusLn != nil { // Start got as far as serving
		b.imap.Close()
		b.smtp.srv.Close()
		// The servers close only the listeners their Serve has taken
		// up: a Close right after Start can come before that, and Serve
		// would then accept for ever. Closing the listeners here ends
		// Serve either way (a second Close of one is harmless).
		b.imapLns.close()
		b.smtpLns.close()
		b.imapsLns.close()
		b.statusLn.Close()
	}
	b.wg.Wait()
	if b.unsubscribe != nil {
		b.unsubscribe()
	}
	return b.store.Close()
}

// now is the bridge's clock (Config.Now); the system's for a Bridge made
// around a store alone (the CLI's verbs beside a running bridge).
func (b *Bridge) now() time.Time {
	if b.cfg.Now == nil {
		return time.Now()
	}
	return b.cfg.Now()
}

// ownSignet is this account's current signet, verified.
func (b *Bridge) ownSignet(ctx context.Context) (*signet.User, error) {
	u, _, err := b.dir.User(ctx, b.address, signet.Fingerprint{})
	return u, err
}

// relogin logs in again when the session has lapsed (the refresh token
// expired or the provider forgot it), and reports err otherwise.
func (b *Bridge) relogin(ctx context.Context, err error) error {
	if !errors.Is(err, dmap.ErrUnauthorized) && !errors.Is(err, dmap.ErrNotLoggedIn) {
		b.st.setOnline(false)
		return err
	}
	if lerr := b.cfg.Client.Login(ctx, b.address, b.cfg.Keys.Device); lerr != nil {
		return fmt.Errorf("log in again: %w", lerr)
	}
	return err
}
