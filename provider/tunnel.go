package provider

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"umbra/dmap"
	"umbra/dnsrec"
)

// tunnelDialTimeout bounds the connection to the other domain.
const tunnelDialTimeout = 10 * time.Second

// Tunnel opens the TCP half of a user's look-up tunnel (docs/spec/dmap.md
// §9.3) to domain's DMTP service, as the domain's _dime record names it.
// The provider learns the domain and the byte counts, as it would for
// mail, and never the names looked up: the device speaks TLS with the
// other domain inside. The client chooses every byte, so the provider
// connects only to the host:port of a dark domain's record, and, unless
// Config.TunnelPrivate, only to a public unicast address (checked on the
// address actually dialled, so DNS cannot rebind it to the inside).
func (b dmapBackend) Tunnel(ctx context.Context, account, domain string) (net.Conn, error) {
	p := b.p
	if domain == p.domain {
		return nil, fmt.Errorf("%w: this provider's own domain: ask it directly", dmap.ErrForbidden)
	}
	res, err := p.dns.Check(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("%w: look up _dime.%s: %v", dmap.ErrUnavailable, domain, err)
	}
	switch res.Status {
	case dnsrec.Dark:
	case dnsrec.Downgrade:
		return nil, fmt.Errorf("%w: %s: _dime record vanished while its dark policy is in force", dmap.ErrUnavailable, domain)
	default:
		return nil, fmt.Errorf("%w: %s has no _dime record", dmap.ErrNotFound, domain)
	}
	d := net.Dialer{Timeout: tunnelDialTimeout}
	if !p.cfg.TunnelPrivate {
		d.Control = publicOnly
	}
	conn, err := d.DialContext(ctx, "tcp", res.Answer.Record.DX)
	if err != nil {
		return nil, fmt.Errorf("%w: tunnel to %s: %v", dmap.ErrUnavailable, domain, err)
	}
	p.metrics.tunnels.Inc()
	return conn, nil
}

// specialPrefixes are global-unicast-looking ranges that are not the
// public internet: shared address space (RFC 6598), IETF protocol
// assignments (RFC 6890), benchmarking (RFC 2544), and IPv6 site-local
// (deprecated, RFC 3879) and NAT64 (RFC 6052), which reaches IPv4 behind it.
var specialPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("fec0::/10"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// publicOnly refuses to connect to an address that is not global unicast,
// or is private (RFC 1918, RFC 4193), loopback, link-local or special.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("tunnel: %w", err)
	}
	a := ap.Addr().Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() || slices.ContainsFunc(specialPrefixes, func(p netip.Prefix) bool { return p.Contains(a) }) {
		return fmt.Errorf("tunnel: %s is not a public address", a)
	}
	return nil
}
