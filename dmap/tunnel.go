package dmap

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"umbra/signet"
)

// Tunnel limits (spec §9.3). A tunnel carries a DMTP session of SGNT and
// HIST commands to another domain: a few hundred bytes up, at most a few
// pages of signets down.
const (
	// TunnelMaxUp and TunnelMaxDown bound the bytes of one tunnel in
	// each direction; past them the tunnel is closed.
	TunnelMaxUp   = 64 << 10
	TunnelMaxDown = 16 << 20
	// TunnelIdle closes a tunnel on which neither side sent anything for
	// that long; TunnelLifetime closes any tunnel after that long.
	TunnelIdle     = 30 * time.Second
	TunnelLifetime = 2 * time.Minute
	// TunnelsPerAccount is the number of tunnels one account may hold
	// open at once.
	TunnelsPerAccount = 4
)

// Tunnels is the part of Backend that opens look-up tunnels.
type Tunnels interface {
	// Tunnel opens a TCP connection to domain's DMTP service, as its
	// _dime record names it, for account (spec §9.3). ErrNotFound if
	// the domain has no _dime record, ErrForbidden if the tunnel may not
	// go there (this provider's own domain; an address the provider does
	// not connect to), ErrUnavailable if it cannot be reached now.
	Tunnel(ctx context.Context, account, domain string) (net.Conn, error)
}

// tunnelCounts holds the tunnels open per account.
type tunnelCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (t *tunnelCounts) take(account string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
	}
	if t.n[account] >= TunnelsPerAccount {
		return false
	}
	t.n[account]++
	return true
}

func (t *tunnelCounts) give(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n[account]--; t.n[account] <= 0 {
		delete(t.n, account)
	}
}

// POST /tunnel?domain=… (spec §9.3): the request body goes to the other
// domain's DMTP service, its answers come back as the response body. The
// provider sees the domain and the byte counts, never what is asked: the
// device runs TLS end to end with the other domain inside.
func (h *handler) tunnel(w http.ResponseWriter, r *http.Request, s Session) {
	q, err := query(r.URL.RawQuery, "domain")
	domain := q.Get("domain")
	if err == nil && signet.CheckDomain(domain) != nil {
		err = ErrBadField.With("domain must be a domain name")
	}
	if err == nil && !h.tunnels.take(s.Account) {
		e := ErrUnavailable.With("at most %d look-up tunnels at once per account", TunnelsPerAccount)
		e.RetryAfter = time.Second
		err = e
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	defer h.tunnels.give(s.Account)
	ctx, cancel := context.WithTimeout(r.Context(), TunnelLifetime)
	defer cancel()
	conn, err := h.b.Tunnel(ctx, s.Account, domain)
	if err != nil {
		h.fail(w, err)
		return
	}
	defer conn.Close()
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		if err := rc.EnableFullDuplex(); err != nil {
			h.fail(w, ErrBadField.With("a tunnel needs HTTP/2 or a full-duplex HTTP/1.1 connection"))
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var up, down atomic.Int64
	done := make(chan struct{})
	go func() {
		// Device → other domain. The read deadline is the idle limit.
		defer close(done)
		buf := make([]byte, 16<<10)
		for {
			_ = rc.SetReadDeadline(time.Now().Add(TunnelIdle))
			n, err := r.Body.Read(buf)
			if n > 0 {
				if up.Add(int64(n)) > TunnelMaxUp {
					break
				}
				if _, werr := conn.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		// Tell the other side the device is done; its answers may still
		// be on their way.
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			conn.Close()
		}
	}()
	// Other domain → device.
	buf := make([]byte, 16<<10)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(TunnelIdle))
		n, err := conn.Read(buf)
		if n > 0 {
			if down.Add(int64(n)) > TunnelMaxDown {
				break
			}
			_ = rc.SetWriteDeadline(time.Now().Add(TunnelIdle))
			if _, werr := w.Write(buf[:n]); werr != nil || rc.Flush() != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	conn.Close()
	_ = rc.SetReadDeadline(time.Now()) // end the other half
	<-done
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	h.o.Logger.Debug("dmap: tunnel closed", "account", s.Account, "domain", domain, "up", up.Load(), "down", down.Load())
}

// Tunnel opens a look-up tunnel to domain's DMTP service through the
// provider (spec §9.3) and returns it as a connection: run TLS with the
// other domain over it (dmtp.NewClient). ctx bounds the whole tunnel;
// Close ends it. The returned connection supports deadlines.
func (c *Client) Tunnel(ctx context.Context, domain string) (net.Conn, error) {
	if err := signet.CheckDomain(domain); err != nil {
		return nil, fmt.Errorf("dmap: tunnel: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	resp, err := c.do(ctx, request{method: "POST", path: "tunnel", query: map[string][]string{"domain": {domain}},
		header: http.Header{"Content-Type": {"application/octet-stream"}}, stream: pr, auth: true})
	if err != nil {
		cancel()
		pw.Close()
		return nil, err
	}
	// The caller's end is one side of a synchronous in-memory pipe, which
	// has deadlines (TLS and DMTP use them); two goroutines carry its
	// bytes to and from the HTTP stream.
	mine, theirs := net.Pipe()
	go func() {
		_, err := io.Copy(pw, theirs)
		pw.CloseWithError(err)
	}()
	go func() {
		_, _ = io.Copy(theirs, resp.Body)
		resp.Body.Close()
		theirs.Close()
		cancel()
	}()
	return &tunnelConn{Conn: mine, domain: domain, cancel: cancel}, nil
}

type tunnelConn struct {
	net.Conn
	domain string
	cancel context.CancelFunc
	once   sync.Once
}

func (t *tunnelConn) Close() error {
	err := t.Conn.Close()
	t.once.Do(t.cancel)
	return err
}

func (t *tunnelConn) RemoteAddr() net.Addr { return tunnelAddr(t.domain) }

// tunnelAddr names the far end of a tunnel.
type tunnelAddr string

func (a tunnelAddr) Network() string { return "dmap-tunnel" }
func (a tunnelAddr) String() string  { return string(a) }
