package dmap

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// ErrNotLoggedIn is returned by the Client's authenticated methods before
// Login (or SetTokens), and once the refresh token has expired.
var ErrNotLoggedIn = errors.New("dmap: not logged in")

// Response limits of the client: a hostile or broken server cannot make
// it read without bound.
const (
	maxErrorBody    = 64 << 10
	maxJSONResponse = 4 << 20 // a key backup response carries up to 1 MiB in base64
)

// refreshMargin: an access token this close to expiry is refreshed first.
const refreshMargin = 30 * time.Second

// Client is the device side of DMAP. It is safe for concurrent use; after
// Login it keeps the session's tokens and refreshes the access token
// before it expires.
type Client struct {
	base string // scheme://host[:port] + BasePath
	hc   *http.Client
	// MaxDocument bounds a downloaded document [DefaultMaxDoc].
	MaxDocument int64

	mu  sync.Mutex // guards tok
	tok Tokens
	// refreshing serialises refreshes: a refresh token works once.
	refreshing sync.Mutex
}

// Tokens are a logged-in session as the client keeps it. A bridge may
// store them (they are secrets) to resume without a new login.
type Tokens struct {
	Address        string
	DeviceID       string
	Access         string
	AccessExpires  time.Time
	Refresh        string
	RefreshExpires time.Time
}

// NewClient returns a client for the DMAP service at baseURL: the DMAP URL
// of the organisation signet and the _dime record, "https://host[:port]"
// with no path or with the path BasePath ("/dmap/v1/"), talking
// TLS with tlsConfig (see ClientTLSConfig), which is copied; TLS 1.3 is
// enforced.
func NewClient(baseURL string, tlsConfig *tls.Config) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("dmap: base URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/" && u.Path != BasePath) || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("dmap: base URL %q: want https://host[:port] or https://host[:port]/dmap/v1/, without query or user", baseURL)
	}
	if tlsConfig == nil {
		return nil, errors.New("dmap: NewClient: no TLS configuration")
	}
	cfg := tlsConfig.Clone()
	cfg.MinVersion = tls.VersionTLS13
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	tr := &http.Transport{
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 15 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
	return &Client{
		base:        "https://" + u.Host + BasePath,
		hc:          &http.Client{Transport: tr},
		MaxDocument: DefaultMaxDoc,
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Tokens returns the current session's tokens.
func (c *Client) Tokens() Tokens {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tok
}

// SetTokens resumes a stored session.
func (c *Client) SetTokens(t Tokens) {
	c.mu.Lock()
	c.tok = t
	c.mu.Unlock()
}

// request is one call: method and path under BasePath, query, headers,
// body. auth adds the bearer token.
type request struct {
	method, path string
	query        url.Values
	header       http.Header
	body         []byte
	stream       io.Reader // a body sent as it is read, instead of body
	auth         bool
}

// do sends rq and returns a 2xx response (the caller closes its body) or
// the server's *Error.
func (c *Client) do(ctx context.Context, rq request) (*http.Response, error) {
	u := c.base + rq.path
	if len(rq.query) > 0 {
		u += "?" + rq.query.Encode()
	}
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	if rq.stream != nil {
		body = rq.stream
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("dmap: %s %s: %w", rq.method, rq.path, err)
	}
	for k, v := range rq.header {
		req.Header[k] = v
	}
	if rq.auth {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dmap: %s %s: %w", rq.method, rq.path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}

// responseError decodes the JSON error of spec §3; an answer that is not
// one (from a proxy, say) keeps its status and an empty code.
func responseError(resp *http.Response) *Error {
	e := &Error{Status: resp.StatusCode}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var eb errorBody
	if json.Unmarshal(data, &eb) == nil && eb.Code != "" {
		e.Code, e.Message, e.Current = eb.Code, eb.Message, eb.Current
	} else {
		e.Message = fmt.Sprintf("%s (not a DMAP error body)", http.StatusText(resp.StatusCode))
	}
	if s, err := strconv.ParseInt(resp.Header.Get("Retry-After"), 10, 32); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// readAll reads a response body of at most limit bytes, into a buffer of
// the announced length when there is one.
func readAll(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("dmap: response of %d bytes, over %d", resp.ContentLength, limit)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + 1) // +1: ReadFrom wants room to see EOF
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1)); err != nil {
		return nil, fmt.Errorf("dmap: read response: %w", err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("dmap: response over %d bytes", limit)
	}
	return buf.Bytes(), nil
}

// call sends a JSON request (nil in: no body) and decodes a JSON answer
// into out (nil: none expected).
func (c *Client) call(ctx context.Context, method, path string, in, out any, auth bool) error {
	rq := request{method: method, path: path, auth: auth}
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("dmap: encode %s: %w", path, err)
		}
		rq.body = data
		rq.header = http.Header{"Content-Type": {"application/json"}}
	}
	resp, err := c.do(ctx, rq)
	if err != nil {
		return err
	}
	data, err := readAll(resp, maxJSONResponse)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("dmap: %s %s: malformed answer: %w", method, path, err)
	}
	return nil
}

// accessToken returns a valid access token, refreshing it first when it
// expires within refreshMargin.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	if t := c.Tokens(); !stale(t) {
		return t.Access, nil
	}
	if err := c.refresh(ctx, stale); err != nil {
		return "", err
	}
	return c.Tokens().Access, nil
}

func stale(t Tokens) bool { return t.Access == "" || time.Until(t.AccessExpires) <= refreshMargin }

// refresh replaces the tokens if need says so once the refresh lock is
// held: another goroutine may have refreshed them meanwhile.
func (c *Client) refresh(ctx context.Context, need func(Tokens) bool) error {
	c.refreshing.Lock()
	defer c.refreshing.Unlock()
	t := c.Tokens()
	if !need(t) {
		return nil
	}
	if t.Refresh == "" || !time.Now().Before(t.RefreshExpires) {
		return ErrNotLoggedIn
	}
	var tr tokensResponse
	if err := c.call(ctx, http.MethodPost, "refresh", refreshRequest{RefreshToken: t.Refresh}, &tr, false); err != nil {
		return err
	}
	return c.keepTokens(t.Address, tr)
}

// Refresh replaces the session's tokens now (the client also does it by
// itself before the access token expires).
func (c *Client) Refresh(ctx context.Context) error {
	return c.refresh(ctx, func(Tokens) bool { return true })
}

// keepTokens checks and stores a login or refresh answer.
func (c *Client) keepTokens(address string, tr tokensResponse) error {
	if _, err := field("access_token", tr.AccessToken, TokenSize); err != nil {
		return fmt.Errorf("dmap: malformed token answer: %w", err)
	}
	if _, err := field("refresh_token", tr.RefreshToken, TokenSize); err != nil {
		return fmt.Errorf("dmap: malformed token answer: %w", err)
	}
	if tr.ExpiresIn <= 0 || tr.RefreshExpiresIn <= 0 {
		return fmt.Errorf("dmap: malformed token answer: lifetimes %d and %d s", tr.ExpiresIn, tr.RefreshExpiresIn)
	}
	now := time.Now()
	c.SetTokens(Tokens{
		Address:        address,
		DeviceID:       tr.DeviceID,
		Access:         tr.AccessToken,
		AccessExpires:  now.Add(time.Duration(tr.ExpiresIn) * time.Second),
		Refresh:        tr.RefreshToken,
		RefreshExpires: now.Add(time.Duration(tr.RefreshExpiresIn) * time.Second),
	})
	return nil
}
