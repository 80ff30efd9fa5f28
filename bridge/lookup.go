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

// fetchSignet fetches the raw signet of name (an address or a domain;
// fp zero: the current one). Names of the account's own domain are asked
// of its provider, which knows them anyway; every other name is asked of
// its own domain's DMTP service through a tunnel (docs/spec/dmap.md §9.3),
// so that the provider never learns whom its user writes to or hears
// from (DESIGN §2). ErrNoSignet if there is none.
func (d *Directory) fetchSignet(ctx context.Context, name string, fp signet.Fingerprint) ([]byte, error) {
	domain := domainOfName(name)
	if !d.tunnelled(domain) {
		raw, err := d.cl.Signet(ctx, name, fp)
		if errors.Is(err, dmap.ErrNotFound) {
			return nil, fmt.Errorf("%w for %s", ErrNoSignet, name)
		}
		return raw, err
	}
	var raw []byte
	err := d.viaTunnel(ctx, domain, func(cl *dmtp.Client) (err error) {
		raw, err = cl.Signet(name, fp)
		return err
	})
	return raw, err
}

// History fetches address's user signets from start to stop (both
// included; zero: the first, the current), oldest first, as
// fetchSignet does: unverified.
func (d *Directory) History(ctx context.Context, address string, start, stop signet.Fingerprint) ([][]byte, error) {
	domain := signet.DomainOf(address)
	if !d.tunnelled(domain) {
		return d.cl.History(ctx, address, start, stop)
	}
	var frames [][]byte
	err := d.viaTunnel(ctx, domain, func(cl *dmtp.Client) (err error) {
		frames, err = cl.History(address, start, stop)
		return err
	})
	return frames, err
}

func domainOfName(name string) string {
	if d := signet.DomainOf(name); d != "" {
		return d
	}
	return name
}

// tunnelled reports whether look-ups for domain go through a tunnel: every
// domain but the account's own, when the Directory can find other domains'
// DMTP services in DNS. Without a resolver (unit tests) the provider is
// asked, and learns the names.
func (d *Directory) tunnelled(domain string) bool {
	return d.resolver != nil && d.home != "" && domain != d.home
}

// viaTunnel runs fn on a DMTP session with domain's own server, reached
// through a tunnel from the account's provider and authenticated end to
// end by the TLS pin of domain's _dime record (or, without one, WebPKI for
// the record's host): the provider relays bytes it cannot read.
func (d *Directory) viaTunnel(ctx context.Context, domain string, fn func(*dmtp.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	ans, err := d.resolver.Lookup(ctx, domain)
	switch {
	case errors.Is(err, dnsrec.ErrNoRecord):
		return fmt.Errorf("%w for the domain %s", ErrNoSignet, domain)
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
	cl, err := dmtp.NewClient(ctx, conn, host, dmtp.PinnedConfig(ans.Record.TLSPin, host))
	if err != nil {
		return fmt.Errorf("DMTP with %s through the tunnel: %w", domain, err)
	}
	defer cl.Close()
	stop := context.AfterFunc(ctx, func() { cl.Close() })
	defer stop()
	if err := cl.Hello(d.home); err != nil {
		return fmt.Errorf("DMTP with %s through the tunnel: %w", domain, err)
	}
	err = fn(cl)
	var de *dmtp.Error
	switch {
	case errors.As(err, &de) && de.Code == 550 && de.Enhanced == "5.1.1":
		return fmt.Errorf("%w: %s answered %v", ErrNoSignet, domain, err)
	case errors.As(err, &de) && !de.Temporary():
		return &permanentError{fmt.Errorf("%s answered %w", domain, err)}
	case err != nil:
		return fmt.Errorf("DMTP with %s through the tunnel: %w", domain, err)
	}
	_ = cl.Quit()
	return nil
}
