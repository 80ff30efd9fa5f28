package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"umbra/connguard"
	"umbra/dmtp"
	"umbra/dnsrec"
	"umbra/keylog"
	"umbra/mtasts"
	"umbra/mx"
	"umbra/provider/store"
	"umbra/spool"
)

// Config is what a provider needs to run. Zero values take the defaults
// documented on each field.
type Config struct {
	// Dir holds the organisation files (see CreateOrg), the TLS
	// certificate and the DNS policy cache. The store is opened by the
	// caller.
	Dir string
	// DMTPListen is the DMTP listen address (default ":26").
	DMTPListen string
	// DMTPListener, when set, is used instead of listening on DMTPListen
	// (the test network reserves its ports before it publishes them).
	DMTPListener net.Listener
	// DMAPListen is the DMAP (HTTPS) listen address (default ":443";
	// "off" disables it).
	DMAPListen string
	// DMAPListener, when set, is used instead of listening on DMAPListen.
	DMAPListener net.Listener
	// MXListen is the legacy SMTP MX listen address (docs/spec/legacy.md
	// §2; "off" or empty: none).
	MXListen string
	// MXListener, when set, is used instead of listening on MXListen.
	MXListener net.Listener
	// MXMaxMessageSize bounds a legacy message (default
	// mx.DefaultMaxMessageSize).
	MXMaxMessageSize int64
	// NetResolver answers the look-ups of legacy mail: SPF, DKIM and
	// DMARC at the MX, MX records for the relay (default: one asking
	// Resolver's server).
	NetResolver *net.Resolver
	// Hostname is the name the relay gives in EHLO (default: the domain).
	Hostname string
	// SmartHost, if set (host:port), takes all legacy mail instead of the
	// recipient domains' exchangers.
	SmartHost string
	// RelayPort is the port of other domains' exchangers (default 25;
	// tests move it).
	RelayPort int
	// RelayRootCAs verify exchangers' certificates where an MTA-STS
	// policy requires it (default: the system's roots; tests add theirs).
	RelayRootCAs *x509.CertPool
	// MTASTSClient fetches MTA-STS policies (default: a client that
	// validates certificates and follows no redirect; tests point it at
	// their server).
	MTASTSClient *http.Client
	// MetricsListen serves Prometheus metrics at /metrics (default
	// "127.0.0.1:9426"; "off" disables).
	MetricsListen string
	// TLSCert and TLSKey are PEM files (default Dir/tls.crt, Dir/tls.key).
	TLSCert, TLSKey string
	// MaxMessageSize bounds DATA (default dmtp.DefaultMaxMessageSize).
	MaxMessageSize int64
	// Limits bound what clients can hold (limits.go).
	Limits Limits
	// QueueMaxAge is how long a message may wait for delivery before it
	// bounces (default 5 days).
	QueueMaxAge time.Duration
	// RetryBase and RetryMax bound the exponential back-off between
	// delivery attempts (defaults 1 minute and 1 hour).
	RetryBase, RetryMax time.Duration
	// TombstoneHorizon is how long a deleted document's tombstone stays
	// in its account's change feed (default 90 days): a device away for
	// longer reads the feed again from the start (docs/spec/dmap.md
	// §8.6, docs/spec/store.md §4.5).
	TombstoneHorizon time.Duration
	// QueueWorkers is the number of concurrent relay workers (default 4).
	QueueWorkers int
	// ClaimLease is how long a relay worker's claim on a queue entry
	// lasts: the longest a node that died without releasing its claims
	// keeps their mail waiting (default 2 minutes; tests shorten it).
	ClaimLease time.Duration
	// DB is the store Open opens: "" for the embedded SQLite database in
	// Dir/data, or a postgres:// URL of a PostgreSQL database that several
	// nodes of the domain may share.
	DB string
	// Node names this process among several sharing one store; queue
	// claims carry it, and at start the provider releases the claims its
	// earlier incarnation held (default: the host name).
	Node string
	// TunnelPrivate lets look-up tunnels (tunnel.go) reach loopback,
	// private and link-local addresses; off, a _dime record cannot turn
	// the provider into a door to its own network. For test networks on
	// one machine.
	TunnelPrivate bool
	// Resolver looks up _dime records (default: the system's resolver).
	Resolver *dnsrec.Resolver
	Logger   *slog.Logger
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

func (c *Config) setDefaults() error {
	if c.Dir == "" {
		return errors.New("provider: Config.Dir is required")
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.DMTPListen, ":26")
	def(&c.DMAPListen, ":443")
	def(&c.MetricsListen, "127.0.0.1:9426")
	def(&c.MXListen, "off")
	def(&c.TLSCert, filepath.Join(c.Dir, CertFile))
	def(&c.TLSKey, filepath.Join(c.Dir, KeyFile))
	if c.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("provider: node name: %w", err)
		}
		c.Node = h
	}
	if c.ClaimLease <= 0 {
		c.ClaimLease = defaultClaimLease
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = dmtp.DefaultMaxMessageSize
	}
	if err := c.Limits.setDefaults(c.MaxMessageSize); err != nil {
		return err
	}
	if c.QueueMaxAge <= 0 {
		c.QueueMaxAge = 5 * 24 * time.Hour
	}
	if c.QueueMaxAge > deliveryWindow {
		// A destination remembers a delivery for deliveryWindow; retried
		// for longer, a message whose 250 was lost could be stored twice
		// (docs/spec/dmtp.md §5.4).
		return fmt.Errorf("provider: queue_max_age %v is over %v, how long a destination remembers a delivery so that a retry is not stored twice (docs/spec/dmtp.md §5.4)",
			c.QueueMaxAge, deliveryWindow)
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Minute
	}
	if c.TombstoneHorizon <= 0 {
		c.TombstoneHorizon = 90 * 24 * time.Hour
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.QueueWorkers <= 0 {
		c.QueueWorkers = 4
	}
	if c.Resolver == nil {
		c.Resolver = &dnsrec.Resolver{}
	}
	if c.RelayPort == 0 {
		c.RelayPort = 25
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Provider is one running domain.
type Provider struct {
	cfg     Config
	org     *OrgKeys
	domain  string
	st      store.Store
	log     *slog.Logger
	tls     *tls.Config
	dns     *dnsrec.Cache
	remotes *remoteCache
	metrics *metrics
	// inflight is the memory budget of message and request bodies being
	// received; spool holds DMTP bodies, in memory under inflight up to
	// spoolAbove bytes and in encrypted files under spoolDisk above.
	inflight  *connguard.Budget
	spoolDisk *connguard.Budget
	spool     *spool.Spool

	dmtpSrv  *dmtp.Server
	dmtpAddr net.Addr
	httpSrv  *http.Server
	httpAddr net.Addr
	dmapSrv  *http.Server
	dmapAddr net.Addr
	mxSrv    *mx.Server
	mxAddr   net.Addr
	// dkim signs relayed legacy mail; relayResolver finds exchangers and
	// answers the MX's sender checks.
	dkim          []dkimKey
	relayResolver *net.Resolver
	// keylog is the domain's transparency log; every signet Issue
	// certifies is appended to it first.
	keylog *keylog.Log
	logKey ed25519.PublicKey
	// sts finds the recipient domains' MTA-STS policies.
	sts *mtasts.Fetcher
	// sealHook, in tests, fails the sealing of legacy mail on demand.
	sealHook func(rcpt string) error

	ownStore bool     // Close closes st (Open opened it)
	lock     *os.File // the directory's run lock, while started
	watch    watchers

	kick   chan struct{} // wakes the relay workers when mail is queued
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New loads the organisation from cfg.Dir and prepares a provider over st.
// It listens on nothing until Start.
func New(cfg Config, st store.Store) (*Provider, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	org, err := LoadOrg(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("provider: TLS certificate: %w", err)
	}
	cache, err := dnsrec.OpenCache(filepath.Join(cfg.Dir, PolicyCacheFile), cfg.Resolver)
	if err != nil {
		return nil, err
	}
	cache.Now = cfg.Now
	p := &Provider{
		cfg:     cfg,
		org:     org,
		domain:  org.Signet.Domain,
		st:      st,
		log:     cfg.Logger.With("domain", org.Signet.Domain),
		tls:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
		dns:     cache,
		metrics: newMetrics(),
		kick:    make(chan struct{}, 1),
	}
	p.remotes = newRemoteCache(p)
	if p.cfg.Hostname == "" {
		p.cfg.Hostname = p.domain
	}
	if p.dkim, err = loadDKIM(cfg.Dir); err != nil {
		return nil, err
	}
	if p.keylog, p.logKey, err = openKeylog(cfg.Dir, p.org.Signet, st); err != nil {
		return nil, err
	}
	if p.relayResolver = cfg.NetResolver; p.relayResolver == nil {
		if p.relayResolver, err = cfg.Resolver.NetResolver(); err != nil {
			return nil, fmt.Errorf("provider: resolver for legacy mail: %w", err)
		}
	}
	p.sts = &mtasts.Fetcher{LookupTXT: p.relayResolver.LookupTXT, HTTP: cfg.MTASTSClient, Now: cfg.Now,
		CacheFile: filepath.Join(cfg.Dir, MTASTSCacheFile)}
	p.inflight = connguard.NewBudget(cfg.Limits.InflightMemory)
	p.spoolDisk = connguard.NewBudget(cfg.Limits.SpoolDisk)
	return p, nil
}

// Domain returns the provider's domain.
func (p *Provider) Domain() string { return p.domain }

// Org returns the organisation keys.
func (p *Provider) Org() *OrgKeys { return p.org }

// Store returns the provider's store.
func (p *Provider) Store() store.Store { return p.st }

// Start listens for DMTP (and metrics unless off), releases the queue
// claims of this node's earlier run and starts the relay workers.
func (p *Provider) Start() error {
	lock, err := lockDir(p.cfg.Dir)
	if err != nil {
		return err
	}
	p.lock = lock
	// Under the run lock: New clears what an earlier run left.
	if p.spool, err = spool.New(filepath.Join(p.cfg.Dir, SpoolDir), spoolAbove, p.inflight, p.spoolDisk); err != nil {
		p.lock.Close()
		p.lock = nil
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	ln := p.cfg.DMTPListener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", p.cfg.DMTPListen); err != nil {
			cancel()
			return fmt.Errorf("provider: DMTP listen: %w", err)
		}
	}
	p.dmtpAddr = ln.Addr()
	ln = p.guardDMTP(ln)
	p.dmtpSrv = p.newDMTPServer()
	p.wg.Go(func() {
		if err := p.dmtpSrv.Serve(ln); err != nil && !errors.Is(err, dmtp.ErrServerClosed) {
			p.log.Error("DMTP server stopped", "err", err)
		}
	})
	if p.cfg.MetricsListen != "off" {
		mln, err := net.Listen("tcp", p.cfg.MetricsListen)
		if err != nil {
			p.Close()
			return fmt.Errorf("provider: metrics listen: %w", err)
		}
		p.httpAddr = mln.Addr()
		p.httpSrv = &http.Server{Handler: p.metrics.handler(p), ReadHeaderTimeout: 10 * time.Second}
		p.wg.Go(func() {
			if err := p.httpSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.log.Error("metrics server stopped", "err", err)
			}
		})
	}
	if err := p.watchStore(ctx); err != nil {
		p.Close()
		return err
	}
	if err := p.startDMAP(ctx); err != nil {
		p.Close()
		return err
	}
	if err := p.startMX(); err != nil {
		p.Close()
		return err
	}
	if err := p.releaseOwnClaims(ctx); err != nil {
		p.Close()
		return err
	}
	p.wg.Go(func() { p.janitor(ctx) })
	for i := range p.cfg.QueueWorkers {
		p.wg.Go(func() { p.relayWorker(ctx, fmt.Sprintf("%s/%d", p.cfg.Node, i)) })
	}
	p.log.Info("provider started", "dmtp", p.dmtpAddr.String(), "workers", p.cfg.QueueWorkers)
	return nil
}

// DMTPAddr is the address DMTP listens on, once started.
func (p *Provider) DMTPAddr() string { return p.dmtpAddr.String() }

// DMAPAddr is the DMAP address, or "" when off.
func (p *Provider) DMAPAddr() string {
	if p.dmapAddr == nil {
		return ""
	}
	return p.dmapAddr.String()
}

// MXAddr is the legacy MX address, or "" when off.
func (p *Provider) MXAddr() string {
	if p.mxAddr == nil {
		return ""
	}
	return p.mxAddr.String()
}

// MetricsAddr is the metrics address, or "" when off.
func (p *Provider) MetricsAddr() string {
	if p.httpAddr == nil {
		return ""
	}
	return p.httpAddr.String()
}

// Close stops accepting connections, lets DATA already being received
// finish (up to 30 seconds), stops the relay workers and waits for them.
// It closes the store only if Open opened it.
func (p *Provider) Close() error {
	if p.cancel != nil {
		p.cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if p.dmtpSrv != nil {
		errs = append(errs, p.dmtpSrv.Shutdown(ctx))
	}
	if p.mxSrv != nil {
		errs = append(errs, p.mxSrv.Shutdown(ctx))
	}
	for _, srv := range []*http.Server{p.httpSrv, p.dmapSrv} {
		if srv != nil {
			errs = append(errs, srv.Shutdown(ctx))
		}
	}
	p.wg.Wait()
	if p.ownStore {
		errs = append(errs, p.st.Close())
	}
	if p.lock != nil {
		errs = append(errs, p.lock.Close())
		p.lock = nil
	}
	return errors.Join(errs...)
}
