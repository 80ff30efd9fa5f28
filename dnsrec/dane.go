package dnsrec

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Secure look-ups for SMTP DANE (RFC 7672): the MX and TLSA records with
// whether the resolver validated them (its AD bit; ask a validating
// resolver you trust, ideally on loopback, as for _dime records).

// MXAnswer is a domain's MX records as the resolver gave them.
type MXAnswer struct {
	Hosts         []*dns.MX // in the resolver's order
	Authenticated bool      // the RRset was DNSSEC-validated (RFC 7672 §2.2.1)
	NotFound      bool      // NXDOMAIN or no MX record: the domain itself is the exchanger
}

// LookupMX asks for domain's MX records.
func (r *Resolver) LookupMX(ctx context.Context, domain string) (*MXAnswer, error) {
	resp, err := r.query(ctx, dns.Fqdn(domain), dns.TypeMX)
	if err != nil {
		return nil, err
	}
	a := &MXAnswer{Authenticated: resp.AuthenticatedData}
	for _, rr := range resp.Answer {
		if mx, ok := rr.(*dns.MX); ok {
			a.Hosts = append(a.Hosts, mx)
		}
	}
	a.NotFound = resp.Rcode == dns.RcodeNameError || len(a.Hosts) == 0
	return a, nil
}

// TLSAAnswer is the TLSA records of one SMTP server.
type TLSAAnswer struct {
	Name          string // "_<port>._tcp.<host>."
	Records       []*dns.TLSA
	Authenticated bool
}

// LookupTLSA asks for the TLSA records of host's SMTP service on port
// (RFC 7672 §2.2.2). NXDOMAIN and NODATA are an answer with no records.
func (r *Resolver) LookupTLSA(ctx context.Context, host string, port int) (*TLSAAnswer, error) {
	name := "_" + strconv.Itoa(port) + "._tcp." + dns.Fqdn(strings.ToLower(host))
	resp, err := r.query(ctx, name, dns.TypeTLSA)
	if err != nil {
		return nil, err
	}
	a := &TLSAAnswer{Name: name, Authenticated: resp.AuthenticatedData}
	for _, rr := range resp.Answer {
		if t, ok := rr.(*dns.TLSA); ok && strings.EqualFold(t.Hdr.Name, name) {
			a.Records = append(a.Records, t)
		}
	}
	return a, nil
}

// query asks the resolver one question; any rcode but NOERROR and
// NXDOMAIN is an error (a SERVFAIL from a validating resolver may be a
// DNSSEC failure: ErrBogus when its extended error says so).
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	server, err := r.server()
	if err != nil {
		return nil, err
	}
	resp, err := r.exchange(ctx, name, qtype, server)
	if err != nil {
		return nil, fmt.Errorf("dnsrec: %s at %s: %w (%w)", name, server, ErrTemporary, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return resp, nil
	case dns.RcodeServerFailure:
		if code, ok := dnssecFailure(resp); ok {
			return nil, fmt.Errorf("dnsrec: %s at %s: %w: extended error %d", name, server, ErrBogus, code)
		}
	}
	return nil, fmt.Errorf("dnsrec: %s at %s: %w: %s", name, server, ErrTemporary, dns.RcodeToString[resp.Rcode])
}
