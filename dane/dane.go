// Package dane checks a TLS server's certificate chain against its TLSA
// records as an SMTP client must (RFC 6698, RFC 7671, and RFC 7672 for
// SMTP): DANE-EE records pin the server's own key or certificate, DANE-TA
// records a trust anchor the chain must lead to. PKIX-TA and PKIX-EE
// records are unusable for SMTP (RFC 7672 §3.1.3) and are ignored.
//
// The package does no DNS: the caller looks the records up (validated,
// or not used at all) and hands them over.
//
// Concurrency: the functions keep no state and are safe for concurrent
// use.
package dane

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// TLSA is one TLSA record's fields (RFC 6698 §2.1).
type TLSA struct {
	Usage        uint8 // 2 DANE-TA, 3 DANE-EE
	Selector     uint8 // 0 the whole certificate, 1 its SubjectPublicKeyInfo
	MatchingType uint8 // 0 exact, 1 SHA-256, 2 SHA-512
	Data         []byte
}

// ParseHex builds a TLSA from presentation-form fields (the certificate
// association data in hex, as DNS shows it).
func ParseHex(usage, selector, matching uint8, data string) (TLSA, error) {
	b, err := hex.DecodeString(data)
	if err != nil {
		return TLSA{}, fmt.Errorf("dane: association data: %w", err)
	}
	return TLSA{usage, selector, matching, b}, nil
}

// Usable reports whether an SMTP client can use r (RFC 7672 §3.1).
func (r TLSA) Usable() bool {
	if r.Usage != 2 && r.Usage != 3 || r.Selector > 1 {
		return false
	}
	switch r.MatchingType {
	case 0:
		return len(r.Data) > 0
	case 1:
		return len(r.Data) == sha256.Size
	case 2:
		return len(r.Data) == sha512.Size
	}
	return false
}

// matches reports whether cert is the certificate r names.
func (r TLSA) matches(cert *x509.Certificate) bool {
	data := cert.Raw
	if r.Selector == 1 {
		data = cert.RawSubjectPublicKeyInfo
	}
	switch r.MatchingType {
	case 1:
		h := sha256.Sum256(data)
		data = h[:]
	case 2:
		h := sha512.Sum512(data)
		data = h[:]
	}
	return bytes.Equal(data, r.Data)
}

// ErrNoMatch: the chain matches none of the usable records.
var ErrNoMatch = errors.New("dane: the server's certificate matches none of its TLSA records")

// ErrNoUsable: none of the records is usable for SMTP; the caller must
// then treat the server as if it had none but still require TLS (RFC
// 7672 §2.2).
var ErrNoUsable = errors.New("dane: no usable TLSA record")

// Verify checks chain, as the server presented it (leaf first), against
// records. A DANE-EE record must match the leaf; its names and dates are
// not checked (RFC 7672 §3.1.1). A DANE-TA record must match a
// certificate of the chain other than the leaf, and the leaf must chain
// to it and be valid at now for one of names: the MX host name or the
// recipient domain (RFC 7672 §3.2).
func Verify(chain []*x509.Certificate, records []TLSA, names []string, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("dane: the server presented no certificate")
	}
	usable := 0
	for _, r := range records {
		if !r.Usable() {
			continue
		}
		usable++
		if r.Usage == 3 && r.matches(chain[0]) {
			return nil
		}
		if r.Usage == 2 {
			for _, ta := range chain[1:] {
				if r.matches(ta) && chainsTo(chain, ta, names, now) {
					return nil
				}
			}
		}
	}
	if usable == 0 {
		return ErrNoUsable
	}
	return ErrNoMatch
}

// chainsTo reports whether chain's leaf verifies up to ta for one of
// names.
func chainsTo(chain []*x509.Certificate, ta *x509.Certificate, names []string, now time.Time) bool {
	roots := x509.NewCertPool()
	roots.AddCert(ta)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, n := range names {
		_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: n, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err == nil {
			return true
		}
	}
	return false
}
