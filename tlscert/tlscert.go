// Package tlscert makes the certificates Umbra uses where no public
// certificate authority is involved: a provider's self-signed DMTP/DMAP
// certificate, trusted through the tls= pin of its _dime record
// (docs/spec/dns.md §4.6), and the bridge's local certificate authority
// (ca.go) with the serving certificate it issues for 127.0.0.1, ::1 and
// localhost, which a mail client trusts after `umbra bridge cert export`.
//
// Its functions are safe for concurrent use.
package tlscert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Pair is a certificate and its private key, PEM-encoded.
type Pair struct {
	CertPEM, KeyPEM []byte
	Leaf            *x509.Certificate // the parsed certificate (of a CA too)
}

// New makes a self-signed ECDSA P-256 certificate for hosts (names or IP
// addresses; the first is also the common name), valid from an hour ago
// for days days.
func New(hosts []string, days int) (*Pair, error) {
	if len(hosts) == 0 {
		return nil, errors.New("tlscert: no host")
	}
	tmpl, err := template(hosts[0], days)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	tmpl.DNSNames, tmpl.IPAddresses = splitHosts(hosts)
	return sign(tmpl, nil, nil)
}

// Load parses a PEM pair back into a Pair.
func Load(certPEM, keyPEM []byte) (*Pair, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	return &Pair{CertPEM: certPEM, KeyPEM: keyPEM, Leaf: c.Leaf}, nil
}

// Bundle is the certificate and the key in one PEM text, for LoadBundle.
func (p *Pair) Bundle() []byte {
	return append(append([]byte(nil), p.CertPEM...), p.KeyPEM...)
}

// LoadBundle parses what Bundle made back into a Pair whose CertPEM holds
// the certificate alone.
func LoadBundle(bundle []byte) (*Pair, error) {
	var certPEM, keyPEM []byte
	for rest := bundle; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			certPEM = append(certPEM, pem.EncodeToMemory(blk)...)
		} else {
			keyPEM = append(keyPEM, pem.EncodeToMemory(blk)...)
		}
	}
	return Load(certPEM, keyPEM)
}

// Certificate is the pair as a tls.Certificate.
func (p *Pair) Certificate() (tls.Certificate, error) {
	return tls.X509KeyPair(p.CertPEM, p.KeyPEM)
}

// template is a certificate for common name cn with a random 127-bit
// serial number, valid from an hour ago for days days.
func template(cn string, days int) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tlscert: serial number: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(0, 0, days),
	}, nil
}

// splitHosts sorts hosts into DNS names and IP addresses.
func splitHosts(hosts []string) (names []string, ips []net.IP) {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, h)
		}
	}
	return names, ips
}

// sign makes a new ECDSA P-256 key and the certificate tmpl for it, signed
// by parent with parentKey, or self-signed when parent is nil.
func sign(tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlscert: key: %w", err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	return &Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		Leaf:    leaf,
	}, nil
}
