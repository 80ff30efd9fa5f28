package dmap

import (
	"crypto/tls"
	"errors"
	"net/http"
	"time"

	"umbra/dmtp"
)

// MaxStreams is the number of concurrent HTTP/2 streams a server allows
// one connection (RFC 9113 §5.1.2; Go's default is 250). A device needs
// a long-poll, a few uploads and downloads at once; 32 leaves room and
// bounds what one connection can hold.
const MaxStreams = 32

// NewServer returns an http.Server for handler h over TLS 1.3 only, with
// HTTP/2 offered first (spec §2.1). tlsConfig carries the certificate;
// it is copied. Serve it with ServeTLS(listener, "", "").
//
// It sets ReadHeaderTimeout (which also bounds the TLS handshake),
// IdleTimeout and at most MaxStreams concurrent HTTP/2 streams per
// connection, but no ReadTimeout, which the handler applies to bodies as
// a minimum rate instead (Options.BodyRate), and no WriteTimeout, which
// would cut long-polls and large downloads; run the server behind limits
// on connections (connguard) if slow readers are a concern (spec §2.5).
func NewServer(h http.Handler, tlsConfig *tls.Config) (*http.Server, error) {
	if tlsConfig == nil {
		return nil, errors.New("dmap: NewServer: no TLS configuration")
	}
	if tlsConfig.MaxVersion != 0 && tlsConfig.MaxVersion < tls.VersionTLS13 {
		return nil, errors.New("dmap: NewServer: TLS MaxVersion is below TLS 1.3")
	}
	cfg := tlsConfig.Clone()
	cfg.MinVersion = tls.VersionTLS13
	cfg.NextProtos = []string{"h2", "http/1.1"}
	return &http.Server{
		Handler:           h,
		TLSConfig:         cfg,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: MaxStreams},
	}, nil
}

// ClientTLSConfig is the client side (spec §2.1): TLS 1.3, ALPN h2 then
// http/1.1, and with a non-nil pin (the organisation signet's tls-pin or
// the _dime record's tls=, SHA-256 of the certificate's SubjectPublicKeyInfo)
// the server authenticated by its key alone, as dmtp.PinnedConfig does;
// with pin nil, WebPKI validation for serverName.
func ClientTLSConfig(pin []byte, serverName string) *tls.Config {
	cfg := dmtp.PinnedConfig(pin, serverName)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	return cfg
}
