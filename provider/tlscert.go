package provider

import (
	"fmt"
	"path/filepath"

	"umbra/atomicfile"
	"umbra/dnsrec"
	"umbra/tlscert"
)

// Files beside the organisation keys.
const (
	CertFile        = "tls.crt"
	KeyFile         = "tls.key"
	PolicyCacheFile = "dns-policy.json"
)

// CreateCert writes a self-signed TLS certificate for hosts (names or IP
// addresses) into dir and returns its tls= pin. Peers trust it through the
// pin in the _dime record and the organisation signet (docs/spec/dns.md
// §4.6), so no certificate authority is involved.
func CreateCert(dir string, hosts []string, days int) ([]byte, error) {
	pair, err := tlscert.New(hosts, days)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Create(filepath.Join(dir, KeyFile), pair.KeyPEM); err != nil {
		return nil, fmt.Errorf("provider: TLS key: %w", err)
	}
	if err := atomicfile.Create(filepath.Join(dir, CertFile), pair.CertPEM); err != nil {
		return nil, fmt.Errorf("provider: TLS certificate: %w", err)
	}
	return dnsrec.CertificatePin(pair.Leaf), nil
}
