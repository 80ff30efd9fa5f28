package provider

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"umbra/connguard"
	"umbra/dmap"
	"umbra/provider/store/postgres"
	"umbra/ratelimit"
)

// startDMAP serves DMAP over HTTPS with the provider's certificate (the
// one the _dime record pins), unless DMAPListen is "off". Requests run
// under ctx, so that Close ends long-polls at once instead of waiting out
// their wait.
func (p *Provider) startDMAP(ctx context.Context) error {
	ln := p.cfg.DMAPListener
	if ln == nil {
		if p.cfg.DMAPListen == "off" {
			return nil
		}
		var err error
		if ln, err = net.Listen("tcp", p.cfg.DMAPListen); err != nil {
			return fmt.Errorf("provider: DMAP listen: %w", err)
		}
	}
	// The decoy salts of DMAP's key-backup bootstrap must not change
	// across restarts or between nodes (docs/spec/dmap.md §6.3): derive the
	// key from the SOK, which every node of the domain holds.
	decoy, err := hkdf.Key(sha256.New, p.org.SOK.Seed(), nil, "umbra dmap decoy key v1", 32)
	if err != nil {
		ln.Close()
		return err
	}
	l := p.cfg.Limits
	opts := dmap.Options{Domain: p.domain, DecoyKey: decoy, Logger: p.log, Now: p.cfg.Now,
		BodyRate: l.MinRate, BodyTimeout: l.DataTimeout, Spool: p.spool}
	if pg, ok := p.st.(*postgres.Store); ok {
		// Several nodes may share this store: the limits on guessing
		// must hold across them, not once per node.
		opts.SharedBuckets = func(name string, l ratelimit.Limit) ratelimit.Buckets {
			return pg.RateBuckets("dmap "+name, l, p.cfg.Now, p.log)
		}
	}
	h, err := dmap.Handler(dmapBackend{p}, opts)
	if err != nil {
		ln.Close()
		return err
	}
	srv, err := dmap.NewServer(h, p.tls)
	if err != nil {
		ln.Close()
		return err
	}
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.ReadHeaderTimeout = l.HandshakeTimeout
	// net/http logs failed handshakes and broken connections: clients'
	// doings, so DEBUG (issue 11).
	srv.ErrorLog = slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)
	// Over the limits a connection is closed before TLS: HTTP has no
	// answer to give there (connguard).
	ln = connguard.Wrap(ln, connguard.Limits{MaxConns: l.DMAPMaxConns, MaxPerAddr: l.DMAPMaxPerAddr}, nil)
	p.dmapSrv, p.dmapAddr = srv, ln.Addr()
	p.wg.Go(func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("DMAP server stopped", "err", err)
		}
	})
	return nil
}

// checkpointEvery is how often the janitor empties the store's WAL of
// the older copies of deleted data (store.Store.Checkpoint).
const checkpointEvery = time.Hour

// deliveryWindow is how long the store remembers a delivered message so
// that a redelivery is not stored twice (docs/spec/store.md §4.2): beyond
// the 5 days an origin's queue retries a message by default
// (queue_max_age, docs/spec/dmtp.md §5.4).
const deliveryWindow = 7 * 24 * time.Hour

// janitor sweeps once a minute.
func (p *Provider) janitor(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	lastCheckpoint := p.cfg.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lastCheckpoint = p.sweep(ctx, lastCheckpoint)
	}
}

// sweep removes expired login challenges, sessions and cached remote
// signets, delivery records past deliveryWindow and tombstones past the
// tombstone horizon, then checkpoints the store if checkpointEvery has
// passed since lastCheckpoint, so that what the purges freed leaves the
// WAL too (docs/spec/store.md §7.1). It returns the last checkpoint's
// time.
func (p *Provider) sweep(ctx context.Context, lastCheckpoint time.Time) time.Time {
	now, mb := p.cfg.Now(), p.st.Mailbox()
	for name, purge := range map[string]func(context.Context, time.Time) (int, error){
		"challenges":     p.st.Challenges().Purge,
		"sessions":       p.st.Sessions().Purge,
		"remote signets": p.st.RemoteSignets().Purge,
		"deliveries": func(ctx context.Context, now time.Time) (int, error) {
			return mb.PurgeDeliveries(ctx, now.Add(-deliveryWindow))
		},
		"tombstones": func(ctx context.Context, now time.Time) (int, error) {
			return mb.CollectTombstones(ctx, now.Add(-p.cfg.TombstoneHorizon))
		},
	} {
		if _, err := purge(ctx, now); err != nil && ctx.Err() == nil {
			p.log.Warn("purge", "what", name, "err", err)
		}
	}
	if now.Sub(lastCheckpoint) < checkpointEvery {
		return lastCheckpoint
	}
	if err := p.st.Checkpoint(ctx); err != nil && ctx.Err() == nil {
		p.log.Info("store checkpoint deferred", "err", err)
	}
	return now
}
