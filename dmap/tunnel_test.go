package dmap

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// echoServer accepts connections on 127.0.0.1 and answers each line with
// "echo: " and the line; it reports every byte it received.
type echoServer struct {
	ln net.Listener
	mu sync.Mutex
	rx bytes.Buffer
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					s.mu.Lock()
					s.rx.WriteString(line)
					s.mu.Unlock()
					if err != nil {
						return
					}
					if line == "big\n" {
						c.Write(bytes.Repeat([]byte("x"), TunnelMaxDown+1<<20))
						continue
					}
					io.WriteString(c, "echo: "+line)
				}
			}()
		}
	}()
	return s
}

// TestTunnel: bytes go both ways through a tunnel, the provider's
// backend is asked only for the domain, and the limits of spec §9.3 hold.
func TestTunnel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	echo := newEchoServer(t)
	e.fb.mu.Lock()
	e.fb.tunnelTo["b.test"] = echo.ln.Addr().String()
	e.fb.mu.Unlock()
	u := e.newUser(t, "alice")
	ctx := t.Context()

	conn, err := u.c.Tunnel(ctx, "b.test")
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for _, line := range []string{"SGNT bob@b.test\n", "HIST bob@b.test\n"} {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, line); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil || got != "echo: "+line {
			t.Fatalf("through the tunnel: %q, %v", got, err)
		}
	}
	if conn.RemoteAddr().String() != "b.test" {
		t.Errorf("RemoteAddr %v", conn.RemoteAddr())
	}
	// A deadline passes: the read ends with a timeout, as on TCP.
	conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	conn.Close()

	// A domain the backend has no _dime record for; a bad domain.
	_, err = u.c.Tunnel(ctx, "nowhere.test")
	wantCode(t, err, CodeNotFound, http.StatusNotFound)
	if _, err := u.c.Tunnel(ctx, "not a domain"); err == nil {
		t.Fatal("a tunnel to a bad domain name was opened")
	}
	resp, body := e.raw(t, "POST", "/dmap/v1/tunnel?domain=a..b", u.c.Tokens().Access, "application/octet-stream", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad domain: %d %s", resp.StatusCode, body)
	}
	// Without a session: 401.
	resp, _ = e.raw(t, "POST", "/dmap/v1/tunnel?domain=b.test", "", "application/octet-stream", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}

	// At most TunnelsPerAccount at once.
	var open []net.Conn
	for range TunnelsPerAccount {
		c, err := u.c.Tunnel(ctx, "b.test")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	_, err = u.c.Tunnel(ctx, "b.test")
	wantCode(t, err, CodeUnavailable, http.StatusServiceUnavailable)
	for _, c := range open {
		c.Close()
	}
	// Closing gives the tunnels back (the server notices asynchronously).
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := u.c.Tunnel(ctx, "b.test")
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tunnels not given back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// More than TunnelMaxDown from the far side: the tunnel is cut there.
	conn, err = u.c.Tunnel(ctx, "b.test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(conn, "big\n")
	n, err := io.Copy(io.Discard, conn)
	if err != nil || n > TunnelMaxDown {
		t.Fatalf("read %d bytes through the tunnel (limit %d): %v", n, TunnelMaxDown, err)
	}
}

// TestLogQuery: GET log passes the query to the backend and its answer
// back; the backend's refusal of a malformed query is a 400.
func TestLogQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := e.newUser(t, "alice")
	got, err := u.c.Log(t.Context(), "CHECKPOINT")
	if err != nil || string(got) != "umbra-keylog/a.test\n0\n" {
		t.Fatalf("log checkpoint: %q, %v", got, err)
	}
	_, err = u.c.Log(t.Context(), "SOMETHING ELSE")
	wantCode(t, err, CodeBadField, http.StatusBadRequest)
}
