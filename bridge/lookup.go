package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"umbra/dmap"
	"umbra/dmtp"
	"umbra/dnsrec"
	"umbra/signet"
)

// lookupTimeout bounds one look-up through a tunnel, DNS included.
const lookupTimeout = 45 * time.Second

// source is where the Directory asks for one domain's signets and log:
// the account's own provider over DMAP for its own domain, or that
// domain's own DMTP service through a tunnel. Its answers are unverified.
type source interface {
	// Signet returns a raw signet (fp zero: the current one);
	// ErrNoSignet if there is none.
	Signet(ctx context.Context, name string, fp signet.Fingerprint) ([]byte, error)
	// History returns address's signets from start to stop, oldest
	// first.
	History(ctx context.Context, address string, start, stop signet.Fingerprint) ([][]byte, error)
	// Log asks a query of the domain's transparency log
	// (docs/spec/keylog.md §8); errLogAbsent if the record or tree
	// asked for is not in it, errNoLog if the domain serves no log.
	Log(ctx context.Context, query string) ([]byte, error)
}

var (
	errLogAbsent = errors.New("not in the log")
	errNoLog     = errors.New("the domain serves no transparency log")
)

// open runs fn with a source for domain. Names of the account's own domain
// are asked of its provider, which knows them anyway; every other name is
// asked of its own domain's DMTP service through a tunnel
// (docs/spec/dmap.md §9.3), so that the provider never learns whom its
// user writes to or hears from (DESIGN §2). Without a resolver (unit
// tests) the provider is asked, and learns the names.
func (d *Directory) open(ctx context.Context, domain string, fn func(source) error) error {
	if d.resolver == nil || d.home == "" || domain == d.home {
		return fn(d.homeSrc)
	}
	return d.viaTunnel(ctx, domain, fn)
}

// History fetches address's user signets from start to stop (both
// included; zero: the first, the current), oldest first: unverified.
func (d *Directory) History(ctx context.Context, address string, start, stop signet.Fingerprint) ([][]byte, error) {
	var frames [][]byte
	err := d.open(ctx, signet.DomainOf(address), func(s source) (err error) {
		frames, err = s.History(ctx, address, start, stop)
		return err
	})
	return frames, err
}

// viaTunnel runs fn on a DMTP session with domain's own server, reached
// through a tunnel from the account's provider and authenticated end to
// end by the TLS pin of domain's _dime record (or, without one, WebPKI for
// the record's host): the provider relays bytes it cannot read.
func (d *Directory) viaTunnel(ctx context.Context, domain string, fn func(source) error) error {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	ans, err := d.resolver.Lookup(ctx, domain)
	switch {
	case errors.Is(err, dnsrec.ErrNoRecord):
		return fmt.Errorf("%w for the domain %s: %w", ErrNoSignet, domain, err)
	case err != nil:
		return fmt.Errorf("look up _dime.%s: %w", domain, err)
	}
	host, _, err := net.SplitHostPort(ans.Record.DX)
	if err != nil {
		return &permanentError{fmt.Errorf("the _dime record of %s: dx=%q: %w", domain, ans.Record.DX, err)}
	}
	conn, err := d.cl.Tunnel(ctx, domain)
	if errors.Is(err, dmap.ErrNotFound) {
		return fmt.Errorf("%w for the domain %s (its provider finds no _dime record)", ErrNoSignet, domain)
	}
	if err != nil {
		return fmt.Errorf("tunnel to %s: %w", domain, err)
	}
	var dl dmtp.Dialer
	if d.log != nil {
		// At --log-level trace, the conversation with the other domain's
		// server, as the provider's own outbound DMTP is traced.
		dl.Log = d.log.With("tunnel", domain)
	}
	cl, err := dl.NewClient(ctx, conn, host, dmtp.PinnedConfig(ans.Record.TLSPin, host))
	if err != nil {
		return fmt.Errorf("DMTP with %s through the tunnel: %w", domain, err)
	}
	defer cl.Close()
	// The tunnel's socket, not the client: closing a net.Conn is safe
	// beside the goroutine using it, the client's Close is not.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := cl.Hello(d.home); err != nil {
		return fmt.Errorf("DMTP with %s through the tunnel: %w", domain, err)
	}
	if err := fn(dmtpSource{cl, domain}); err != nil {
		return err
	}
	_ = cl.Quit()
	return nil
}

// dmapSource asks the account's own provider.
type dmapSource struct{ cl *dmap.Client }

func (s dmapSource) Signet(ctx context.Context, name string, fp signet.Fingerprint) ([]byte, error) {
	raw, err := s.cl.Signet(ctx, name, fp)
	if errors.Is(err, dmap.ErrNotFound) {
		return nil, fmt.Errorf("%w for %s", ErrNoSignet, name)
	}
	return raw, err
}

func (s dmapSource) History(ctx context.Context, address string, start, stop signet.Fingerprint) ([][]byte, error) {
	return s.cl.History(ctx, address, start, stop)
}

func (s dmapSource) Log(ctx context.Context, query string) ([]byte, error) {
	b, err := s.cl.Log(ctx, query)
	if errors.Is(err, dmap.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", errLogAbsent, err)
	}
	return b, err
}

// dmtpSource asks another domain's DMTP service; each command is bounded
// by the client's timeout and the tunnel's context.
type dmtpSource struct {
	cl     *dmtp.Client
	domain string
}

func (s dmtpSource) fail(err error) error {
	var de *dmtp.Error
	switch {
	case errors.As(err, &de) && !de.Temporary():
		return &permanentError{fmt.Errorf("%s answered %w", s.domain, err)}
	case err != nil:
		return fmt.Errorf("DMTP with %s through the tunnel: %w", s.domain, err)
	}
	return nil
}

// unknown reports whether err is DMTP's answer for a name, fingerprint,
// record or tree the server does not have (docs/spec/dmtp.md §6).
func unknown(err error) bool {
	var de *dmtp.Error
	return errors.As(err, &de) && de.Code == 550 && de.Enhanced == "5.1.1"
}

func (s dmtpSource) Signet(_ context.Context, name string, fp signet.Fingerprint) ([]byte, error) {
	raw, err := s.cl.Signet(name, fp)
	if unknown(err) {
		return nil, fmt.Errorf("%w: %s answered %v", ErrNoSignet, s.domain, err)
	}
	return raw, s.fail(err)
}

func (s dmtpSource) History(_ context.Context, address string, start, stop signet.Fingerprint) ([][]byte, error) {
	frames, err := s.cl.History(address, start, stop)
	return frames, s.fail(err)
}

func (s dmtpSource) Log(_ context.Context, query string) ([]byte, error) {
	if _, ok := s.cl.Extension("LOG"); !ok {
		return nil, errNoLog
	}
	b, err := s.cl.Log(query)
	if unknown(err) {
		return nil, fmt.Errorf("%w: %s answered %v", errLogAbsent, s.domain, err)
	}
	return b, s.fail(err)
}
