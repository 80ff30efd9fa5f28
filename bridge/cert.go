package bridge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"umbra/atomicfile"
	"umbra/bridge/mailstore"
	"umbra/tlscert"
)

// The bridge's certificates (DESIGN §9). Each account has its own local
// certificate authority, made once, which issues the certificate the
// bridge serves for STARTTLS and implicit TLS. Mail clients and the
// system's trust store import the CA certificate (CertFile, `umbra bridge
// cert export`): NSS, and so Thunderbird, accepts nothing else as a trust
// anchor. Both private keys live only in the encrypted store.
const (
	caDays   = 20 * 365 // the CA outlives any device it runs on
	leafDays = 397      // what Apple and the CA/Browser Forum accept for a server certificate
	// renewBefore is how long before its expiry the serving certificate
	// is replaced (by a new one from the same CA).
	renewBefore = 30 * 24 * time.Hour

	stateCA      = "tls.ca"  // the CA certificate and key, PEM, in one value
	stateLeafCrt = "tls.crt" // the serving certificate (PEM)
	stateLeafKey = "tls.key" // its key (PEM)
)

// certHosts are the names the CA may certify and the serving certificate
// holds: the loopback addresses the bridge listens on.
var certHosts = []string{"localhost", "127.0.0.1", "::1"}

// certs holds the account's CA and the serving certificate, renewing the
// latter when it nears expiry.
type certs struct {
	store *mailstore.Store
	log   *slog.Logger
	ca    *tlscert.Pair

	mu   sync.Mutex
	leaf *tlscert.Pair
	tls  *tls.Certificate
}

// loadCerts returns the account's CA and serving certificate from the
// store, making what is missing: the CA on the first start (also of an
// account directory from before the CA, which had a self-signed serving
// certificate only), the serving certificate when there is none, it is not
// from this CA or it expires within renewBefore. It writes the CA
// certificate to dir/CertFile for mail clients to trust.
func loadCerts(ctx context.Context, store *mailstore.Store, dir string, log *slog.Logger) (*certs, error) {
	c := &certs{store: store, log: log}
	var err error
	if c.ca, err = loadCA(ctx, store, log); err != nil {
		return nil, err
	}
	if c.leaf, err = loadLeaf(ctx, store, c.ca, time.Now()); err != nil {
		return nil, err
	}
	if err := c.setTLS(); err != nil {
		return nil, err
	}
	if err := atomicfile.Replace(filepath.Join(dir, CertFile), c.ca.CertPEM); err != nil {
		return nil, fmt.Errorf("bridge: write the CA certificate: %w", err)
	}
	return c, nil
}

// loadCA returns the CA kept in the store or makes and keeps a new one.
// Certificate and key are one state value, so that they are written
// together or not at all.
func loadCA(ctx context.Context, store *mailstore.Store, log *slog.Logger) (*tlscert.Pair, error) {
	v, err := store.GetState(ctx, stateCA)
	switch {
	case err == nil:
		ca, err := tlscert.LoadBundle(v)
		if err == nil && ca.Leaf.IsCA {
			return ca, nil
		}
		log.Warn("the kept certificate authority is unusable: making a new one; mail clients must import it again (umbra bridge cert export)", "err", err)
	case !errors.Is(err, mailstore.ErrNotFound):
		return nil, fmt.Errorf("bridge: read the CA: %w", err)
	}
	ca, err := tlscert.NewCA("Umbra bridge local CA "+rand.Text()[:8], certHosts, caDays)
	if err != nil {
		return nil, fmt.Errorf("bridge: make the CA: %w", err)
	}
	if err := store.SetState(ctx, stateCA, ca.Bundle()); err != nil {
		return nil, fmt.Errorf("bridge: keep the CA: %w", err)
	}
	log.Info("made the bridge's certificate authority; import it into mail clients with `umbra bridge cert export`")
	return ca, nil
}

// loadLeaf returns the serving certificate kept in the store if it is
// from ca and valid for longer than renewBefore after now; otherwise it
// issues and keeps a new one.
func loadLeaf(ctx context.Context, store *mailstore.Store, ca *tlscert.Pair, now time.Time) (*tlscert.Pair, error) {
	crt, err1 := store.GetState(ctx, stateLeafCrt)
	key, err2 := store.GetState(ctx, stateLeafKey)
	if err := errors.Join(err1, err2); err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return nil, fmt.Errorf("bridge: read the certificate: %w", err)
	}
	if err1 == nil && err2 == nil {
		leaf, err := tlscert.Load(crt, key)
		if err == nil && leaf.Verify(ca, certHosts[0], now.Add(renewBefore)) == nil {
			return leaf, nil
		}
	}
	return issueLeaf(ctx, store, ca)
}

// issueLeaf issues a new serving certificate from ca and keeps it.
func issueLeaf(ctx context.Context, store *mailstore.Store, ca *tlscert.Pair) (*tlscert.Pair, error) {
	leaf, err := ca.Issue(certHosts, leafDays)
	if err != nil {
		return nil, fmt.Errorf("bridge: issue the certificate: %w", err)
	}
	// The key first: a certificate kept without its key would not load
	// and be made again.
	if err := store.SetState(ctx, stateLeafKey, leaf.KeyPEM); err != nil {
		return nil, fmt.Errorf("bridge: keep the certificate's key: %w", err)
	}
	if err := store.SetState(ctx, stateLeafCrt, leaf.CertPEM); err != nil {
		return nil, fmt.Errorf("bridge: keep the certificate: %w", err)
	}
	return leaf, nil
}

func (c *certs) setTLS() error {
	t, err := c.leaf.Certificate()
	if err != nil {
		return fmt.Errorf("bridge: the certificate: %w", err)
	}
	c.tls = &t
	return nil
}

// getCertificate is tls.Config.GetCertificate: the serving certificate,
// renewed from the CA first when it nears expiry (a bridge can run for
// months). A failed renewal is logged and the current one served.
func (c *certs) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Until(c.leaf.Leaf.NotAfter) > renewBefore {
		return c.tls, nil
	}
	leaf, err := issueLeaf(context.Background(), c.store, c.ca)
	if err == nil {
		old := c.leaf
		c.leaf = leaf
		if err = c.setTLS(); err != nil {
			c.leaf = old
		}
	}
	if err != nil {
		c.log.Error("renewing the TLS certificate", "err", err)
	}
	return c.tls, nil
}
