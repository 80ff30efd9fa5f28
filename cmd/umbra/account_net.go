package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"umbra/dmap"
	"umbra/dmtp"
	"umbra/dnsrec"
	"umbra/signet"
)

// serverFlags are the flags that say how to reach the provider when the
// account directory does not say it yet.
type serverFlags struct {
	server, pin, dns *string
}

func declareServerFlags(fs *flag.FlagSet) serverFlags {
	return serverFlags{
		server: fs.String("server", "", "the provider's DMAP `URL` (default: the dmap= of the domain's _dime record)"),
		pin:    fs.String("pin", "", "TLS pin of the provider, standard `BASE64` of a SHA-256 (default: the tls= of the _dime record)"),
		dns:    dnsFlag(fs),
	}
}

// providerEndpoint is how to reach one account's provider, and what DNS says
// about it (nil record: DNS was not asked or had nothing).
type providerEndpoint struct {
	server string
	pin    []byte
	rec    *dnsrec.Record
}

// discover finds the provider of domain (spec: the _dime record carries
// dmap= and tls=, docs/spec/dns.md). An explicit --server is used as
// given, with the pin of --pin, else of the record when DNS has one, else
// none (WebPKI); without --server the record must name the URL.
func (f serverFlags) discover(ctx context.Context, domain string) (*providerEndpoint, error) {
	ep := &providerEndpoint{server: *f.server}
	if *f.pin != "" {
		p, err := decodePin(*f.pin)
		if err != nil {
			return nil, usageErrorf("--pin: %v", err)
		}
		ep.pin = p
	}
	if ep.server != "" && ep.pin != nil {
		return ep, nil
	}
	res, err := dnsResolver(*f.dns)
	if err != nil {
		return nil, err
	}
	ans, lerr := res.Lookup(ctx, domain)
	if lerr == nil {
		ep.rec = ans.Record
	}
	if ep.server == "" {
		switch {
		case lerr != nil:
			return nil, fmt.Errorf("no --server given, and the _dime record of %s gives none: %w", domain, lerr)
		case ep.rec == nil || ep.rec.DMAP == "":
			return nil, fmt.Errorf("no --server given, and the _dime record of %s has no dmap= URL", domain)
		}
		ep.server = ep.rec.DMAP
	}
	if ep.pin == nil && ep.rec != nil {
		ep.pin = ep.rec.TLSPin
	}
	return ep, nil
}

// client connects to the endpoint: pinned when there is a pin, else with
// the system's CAs and the URL's host name.
func (ep *providerEndpoint) client() (*dmap.Client, error) {
	u, err := url.Parse(ep.server)
	if err != nil {
		return nil, usageErrorf("server URL %q: %v", ep.server, err)
	}
	cl, err := dmap.NewClient(ep.server, dmap.ClientTLSConfig(ep.pin, u.Hostname()))
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return cl, nil
}

// probe makes one TLS handshake with the provider, so that an unreachable
// server or a wrong pin shows before the user types passwords and writes
// down a phrase.
func (ep *providerEndpoint) probe(ctx context.Context) error {
	u, err := url.Parse(ep.server)
	if err != nil {
		return usageErrorf("server URL %q: %v", ep.server, err)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	d := &tls.Dialer{Config: dmap.ClientTLSConfig(ep.pin, u.Hostname())}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return explain(err, ep.server)
	}
	return conn.Close()
}

// endpointOf is the endpoint an account file records.
func endpointOf(a *accountInfo) (*providerEndpoint, error) {
	pin, err := a.pin()
	if err != nil {
		return nil, err
	}
	return &providerEndpoint{server: a.Server, pin: pin}, nil
}

// explain turns a DMAP failure into what the user can act on, keeping the
// error for errors.Is.
func explain(err error, server string) error {
	var de *dmap.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dmap.ErrInvite):
		return fmt.Errorf("the provider refused the invitation code (wrong, already used, or not for this address): %w", err)
	case errors.Is(err, dmap.ErrLoginFailed):
		return fmt.Errorf("the provider refused the proof (wrong password or phrase, a revoked device, or no such account): %w", err)
	case errors.Is(err, dmap.ErrRateLimited):
		return fmt.Errorf("too many failed attempts; try again later: %w", err)
	case errors.As(err, &de):
		return err
	case errors.Is(err, dmtp.ErrPinMismatch):
		return fmt.Errorf("the provider at %s does not show the pinned TLS key (from --pin or the _dime record's tls=): someone may be in between, or the pin is stale: %w", server, err)
	default:
		return fmt.Errorf("cannot reach the provider at %s: %w", server, err)
	}
}

// verifyWithOrg checks a certified signet against its organisation signet,
// fetched through the logged-in client and checked against the domain's
// _dime record when DNS gave one (docs/spec/signet.md §5).
func verifyWithOrg(ctx context.Context, cl *dmap.Client, ep *providerEndpoint, u *signet.User) error {
	domain := signet.DomainOf(u.Address)
	raw, err := cl.Signet(ctx, domain, signet.Fingerprint{})
	if err != nil {
		return fmt.Errorf("fetch the organisation signet of %s: %w", domain, explain(err, ep.server))
	}
	org, err := signet.ParseOrg(raw)
	if err != nil {
		return fmt.Errorf("organisation signet of %s: %w", domain, err)
	}
	if ep.rec != nil {
		if !slices.ContainsFunc(ep.rec.POKs, func(k ed25519.PublicKey) bool { return k.Equal(org.POK) }) {
			return fmt.Errorf("the organisation signet of %s is signed by a key its _dime record does not list", domain)
		}
		if !ep.rec.Fingerprint.IsZero() && !ep.rec.Fingerprint.Equal(org.Fingerprint()) {
			return fmt.Errorf("the organisation signet of %s is not the one its _dime record names", domain)
		}
	}
	if err := u.Verify(org, time.Now()); err != nil {
		return fmt.Errorf("the provider's signet for %s does not verify: %w", u.Address, err)
	}
	return nil
}

// currentSignet fetches and parses the account's current signet.
func currentSignet(ctx context.Context, cl *dmap.Client, ep *providerEndpoint, address string) (*signet.User, error) {
	raw, err := cl.Signet(ctx, address, signet.Fingerprint{})
	if err != nil {
		return nil, fmt.Errorf("fetch the current signet of %s: %w", address, explain(err, ep.server))
	}
	u, err := signet.ParseUser(raw)
	if err != nil {
		return nil, fmt.Errorf("current signet of %s: %w", address, err)
	}
	if err := verifyWithOrg(ctx, cl, ep, u); err != nil {
		return nil, err
	}
	return u, nil
}
