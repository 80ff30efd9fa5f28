package bridge

import (
	"log/slog"
	"net"
	"strconv"
	"testing"
)

// TestListenLoopbackSamePort: a chosen port is served on 127.0.0.1 and ::1
// alike, and when ::1 has it taken, both move on to the next port free on
// both.
func TestListenLoopbackSamePort(t *testing.T) {
	t.Parallel()
	if !haveIPv6Loopback() {
		t.Skip("this machine has no ::1")
	}
	quiet := slog.New(slog.DiscardHandler)
	// A port free on both loopbacks now, taken on ::1 only.
	probe, err := listenLoopback("127.0.0.1:0", quiet)
	if err != nil {
		t.Fatal(err)
	}
	port := portOf(probe[0].Addr().String())
	probe[0].Close()
	defer probe.close()

	ls, err := listenLoopback("localhost:"+port, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.close()
	p, _ := strconv.Atoi(port)
	got := ls.addrs()
	if len(got) != 2 || hostOf(t, got[0]) != "127.0.0.1" || hostOf(t, got[1]) != "::1" || portOf(got[0]) != portOf(got[1]) || portOf(got[0]) == port {
		t.Fatalf("with [::1]:%s taken: listening on %v, want one port above it on 127.0.0.1 and ::1", port, got)
	}
	if q, _ := strconv.Atoi(portOf(got[0])); q <= p || q > p+20 {
		t.Errorf("moved from %d to %d", p, q)
	}
	// Not on loopback: the one address given.
	one, err := listenLoopback(net.JoinHostPort("127.0.0.2", "0"), quiet)
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	defer one.close()
	if len(one) != 1 {
		t.Errorf("127.0.0.2: listening on %v", one.addrs())
	}
}
