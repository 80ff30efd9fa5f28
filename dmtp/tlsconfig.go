package dmtp

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
)

// ErrPinMismatch is returned (wrapped) by a handshake whose server
// certificate's public key does not match the pin given to PinnedConfig.
var ErrPinMismatch = errors.New("dmtp: server certificate does not match the pinned key")

// PinnedConfig returns a client TLS configuration for DMTP: TLS 1.3 only,
// offering ALPN "dmtp/1", with serverName as SNI.
//
// With a non-nil pin (the tls= field of the _dime record or the signet's
// tls-pin, DESIGN §4) the server is authenticated by its key alone: the
// SHA-256 of its leaf certificate's DER SubjectPublicKeyInfo (RFC 7469
// §2.4) must equal pin, compared in constant time, and CA validation,
// names and validity dates are not checked, as for DANE-EE (RFC 7671 §5.1),
// so a domain may use a self-signed certificate. TLS 1.3 still proves that
// the server holds the pinned key (CertificateVerify). A pin that is not 32
// bytes long matches nothing.
//
// With pin == nil the certificate is validated against the system roots
// (or RootCAs, if the caller sets it) for serverName.
func PinnedConfig(pin []byte, serverName string) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: serverName,
		NextProtos: []string{ALPN},
	}
	if pin == nil {
		return cfg
	}
	pin = append([]byte(nil), pin...)
	// Verification moves from the default chain check to VerifyConnection,
	// which runs on every handshake, resumed ones included.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: no certificate", ErrPinMismatch)
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
		if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
			return ErrPinMismatch
		}
		return nil
	}
	return cfg
}

// clientTLSConfig copies a caller's configuration and enforces what DMTP
// requires of every client connection: TLS 1.3 and the ALPN name.
func clientTLSConfig(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	cfg.MinVersion = tls.VersionTLS13
	cfg.NextProtos = []string{ALPN}
	return cfg
}

// serverTLSConfig copies the operator's configuration and enforces TLS 1.3
// and the ALPN name, also in any configuration GetConfigForClient returns,
// so that no handshake below TLS 1.3 can complete (DESIGN §3).
func serverTLSConfig(base *tls.Config) (*tls.Config, error) {
	if base == nil {
		return nil, errors.New("dmtp: Server.TLSConfig is nil")
	}
	if base.MaxVersion != 0 && base.MaxVersion < tls.VersionTLS13 {
		return nil, errors.New("dmtp: Server.TLSConfig.MaxVersion is below TLS 1.3")
	}
	if len(base.Certificates) == 0 && base.GetCertificate == nil && base.GetConfigForClient == nil {
		return nil, errors.New("dmtp: Server.TLSConfig has no certificate")
	}
	cfg := base.Clone()
	cfg.MinVersion = tls.VersionTLS13
	cfg.NextProtos = []string{ALPN}
	if get := base.GetConfigForClient; get != nil {
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := get(hello)
			if c == nil || err != nil {
				return c, err
			}
			if c.MaxVersion != 0 && c.MaxVersion < tls.VersionTLS13 {
				return nil, errors.New("dmtp: GetConfigForClient returned a configuration below TLS 1.3")
			}
			c = c.Clone()
			c.MinVersion = tls.VersionTLS13
			c.NextProtos = []string{ALPN}
			return c, nil
		}
	}
	return cfg, nil
}
