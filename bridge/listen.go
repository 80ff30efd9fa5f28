package bridge

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"syscall"
)

// listeners are the sockets of one server: one per loopback address.
type listeners []net.Listener

// addrs are the bound addresses, the first the main one.
func (ls listeners) addrs() []string {
	a := make([]string, len(ls))
	for i, ln := range ls {
		a[i] = ln.Addr().String()
	}
	return a
}

// close closes them all (closing one twice is harmless).
func (ls listeners) close() {
	for _, ln := range ls {
		ln.Close()
	}
}

// otherLoopback returns the address to listen on first for host
// ("localhost" is 127.0.0.1) and the loopback address of the other IP
// version, which the bridge listens on too ("" for a host not on
// loopback).
func otherLoopback(host string) (first, other string) {
	switch host {
	case "localhost", "127.0.0.1":
		return "127.0.0.1", "::1"
	case "::1":
		return "::1", "127.0.0.1"
	}
	return host, ""
}

// listenLoopback listens on addr and, when its host is a loopback address,
// on the same port of the other one too: 127.0.0.1 and ::1, both of which
// the serving certificate names (DESIGN §9). A taken port moves to the
// next one free on both addresses, up to 20 further. Port 0 takes any
// free port on the first address and the same on the second, trying again
// with another if the second has it taken. A machine without the second
// address (no IPv6, say) is logged and served on the first alone.
func listenLoopback(addr string, log *slog.Logger) (listeners, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portStr, err)
	}
	host, other := otherLoopback(host)
	var first error
	for i := 0; i <= 20; i++ {
		p := port
		if port != 0 {
			p += i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			if port == 0 {
				return nil, err
			}
			first = cmp.Or(first, err)
			continue
		}
		if other == "" {
			return listeners{ln}, nil
		}
		bound := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ln2, err := net.Listen("tcp", net.JoinHostPort(other, bound))
		if err == nil {
			return listeners{ln, ln2}, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			log.Info("listening on one loopback address only: the other is not available on this machine",
				"listening", ln.Addr().String(), "unavailable", other, "err", err)
			return listeners{ln}, nil
		}
		ln.Close()
		first = cmp.Or(first, err)
	}
	return nil, first
}
