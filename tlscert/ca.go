package tlscert

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// NewCA makes a certificate authority that can issue certificates for
// hosts and nothing else: a self-signed ECDSA P-256 certificate named cn,
// valid from an hour ago for days days, with the constraints of RFC 5280:
//
//   - basic constraints cA TRUE with pathLenConstraint 0 (§4.2.1.9): it
//     signs end-entity certificates only;
//   - key usage keyCertSign (§4.2.1.3);
//   - name constraints (§4.2.1.10, critical as the RFC requires) whose
//     permitted subtrees are the DNS names and the single IP addresses of
//     hosts, so that a trust store that imports it trusts it for those
//     hosts only.
//
// cn should be unique to the CA: NSS (Thunderbird, Firefox) mixes up two
// certificates of one subject name.
func NewCA(cn string, hosts []string, days int) (*Pair, error) {
	if len(hosts) == 0 {
		return nil, errors.New("tlscert: a CA for no host")
	}
	tmpl, err := template(cn, days)
	if err != nil {
		return nil, err
	}
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = true
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
	tmpl.KeyUsage = x509.KeyUsageCertSign
	names, ips := splitHosts(hosts)
	tmpl.PermittedDNSDomainsCritical = true
	tmpl.PermittedDNSDomains = names
	for _, ip := range ips {
		bits := 8 * net.IPv6len
		if ip4 := ip.To4(); ip4 != nil {
			ip, bits = ip4, 8*net.IPv4len
		}
		tmpl.PermittedIPRanges = append(tmpl.PermittedIPRanges, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
	}
	return sign(tmpl, nil, nil)
}

// Issue makes an end-entity certificate for a TLS server at hosts (names
// or IP addresses; the first is also the common name), signed by the CA
// ca, valid from an hour ago for days days but not beyond the CA.
func (ca *Pair) Issue(hosts []string, days int) (*Pair, error) {
	if len(hosts) == 0 {
		return nil, errors.New("tlscert: no host")
	}
	if ca.Leaf == nil || !ca.Leaf.IsCA {
		return nil, errors.New("tlscert: issue: not a CA certificate")
	}
	c, err := tls.X509KeyPair(ca.CertPEM, ca.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlscert: the CA's key: %w", err)
	}
	signer, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tlscert: the CA's key (%T) cannot sign", c.PrivateKey)
	}
	tmpl, err := template(hosts[0], days)
	if err != nil {
		return nil, err
	}
	if tmpl.NotAfter.After(ca.Leaf.NotAfter) {
		tmpl.NotAfter = ca.Leaf.NotAfter
	}
	tmpl.BasicConstraintsValid = true // cA FALSE, said (RFC 5280 §4.2.1.9)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.DNSNames, tmpl.IPAddresses = splitHosts(hosts)
	return sign(tmpl, ca.Leaf, signer)
}

// Verify checks that p is a server certificate for host issued by the CA
// ca, valid at now.
func (p *Pair) Verify(ca *Pair, host string, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Leaf)
	_, err := p.Leaf.Verify(x509.VerifyOptions{
		DNSName: host, Roots: roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	return nil
}
