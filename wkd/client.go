package wkd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"umbra/pgp"
)

// MaxResponseSize bounds the key a server may return.
const MaxResponseSize = pgp.MaxKeySize

// DefaultTimeout bounds one Lookup (both methods) when Client.Timeout is 0.
const DefaultTimeout = 15 * time.Second

// ErrNotFound is returned when the directory answers but has no key for the
// address.
var ErrNotFound = errors.New("wkd: no key published")

// Client looks up keys. The zero Client uses http.DefaultClient.
type Client struct {
	// HTTP makes the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// Timeout bounds a whole Lookup; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Lookup fetches address's key, first by the advanced method and, only if
// that host cannot be reached at all (no HTTP answer, e.g. the openpgpkey
// subdomain does not exist), by the direct method (draft §3.1). Of the keys
// served (at most MaxResponseSize bytes), the newest that is usable now
// (pgp.ParsePublicKeys) and carries a user ID with address is returned.
func (c *Client) Lookup(ctx context.Context, address string) (*pgp.PublicKey, error) {
	advanced, err := AdvancedURL(address)
	if err != nil {
		return nil, err
	}
	direct, _ := DirectURL(address) // same address, so no error
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	body, err := c.fetch(ctx, advanced)
	var transport *transportError
	if errors.As(err, &transport) && ctx.Err() == nil {
		body, err = c.fetch(ctx, direct)
	}
	if err != nil {
		return nil, err
	}
	return parseResponse(body, address, time.Now())
}

// transportError is a request that got no HTTP response.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// fetch GETs url and returns a 200 response's body of at most
// MaxResponseSize bytes.
func (c *Client) fetch(ctx context.Context, url string) ([]byte, error) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("wkd: %s: %w", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &transportError{fmt.Errorf("wkd: %w", err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w at %s", ErrNotFound, url)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("wkd: %s: HTTP status %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("wkd: %s: read: %w", url, err)
	}
	if len(body) > MaxResponseSize {
		return nil, fmt.Errorf("wkd: %s: response over %d bytes", url, MaxResponseSize)
	}
	return body, nil
}

// parseResponse picks the key for address from a directory's answer (draft
// §3.1: one or more concatenated keys, of which only those with a user ID for
// the address count): the newest usable one.
func parseResponse(body []byte, address string, now time.Time) (*pgp.PublicKey, error) {
	keys, err := pgp.ParsePublicKeys(body, now)
	if err != nil {
		return nil, fmt.Errorf("wkd: key for %s: %w", address, err)
	}
	var best *pgp.PublicKey
	var others []string
	for _, k := range keys {
		if !k.HasAddress(address, now) {
			others = append(others, k.Addresses()...)
			continue
		}
		if best == nil || k.Created().After(best.Created()) {
			best = k
		}
	}
	if best == nil {
		return nil, fmt.Errorf("wkd: no key for %s has a user ID with that address (they have %q)", address, others)
	}
	return best, nil
}
