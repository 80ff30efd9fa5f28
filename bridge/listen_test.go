package bridge

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// noIPv6Env marks the child of TestListenWithoutIPv6Loopback that runs in
// a network namespace whose loopback has no ::1.
const noIPv6Env = "UMBRA_TEST_NO_IPV6_LOOPBACK"

// TestListenWithoutIPv6Loopback: on a machine without ::1 the bridge says
// so at Info and serves on 127.0.0.1 alone, for an ephemeral port and a
// chosen one. The machine is this test run again in a new network
// namespace (unshare -n, as root) with IPv6 off on its loopback.
func TestListenWithoutIPv6Loopback(t *testing.T) {
	if os.Getenv(noIPv6Env) == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root for a network namespace")
		}
		script := `ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 && exec "$0" -test.run='^TestListenWithoutIPv6Loopback$' -test.count=1`
		cmd := exec.Command("unshare", "-n", "sh", "-c", script, os.Args[0])
		cmd.Env = append(os.Environ(), noIPv6Env+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil && !strings.Contains(string(out), "--- FAIL") {
			t.Skipf("no network namespace without IPv6 here: %v\n%s", err, out)
		}
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("in a namespace without ::1: %v\n%s", err, out)
		}
		return
	}
	if haveIPv6Loopback() {
		t.Fatal("the namespace has ::1")
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, addr := range []string{"127.0.0.1:0", "localhost:1143"} {
		ls, err := listenLoopback(addr, log)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if len(ls) != 1 || hostOf(t, ls.addrs()[0]) != "127.0.0.1" {
			t.Errorf("%s: listening on %v", addr, ls.addrs())
		}
		ls.close()
	}
	if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "unavailable=::1") {
		t.Errorf("not said at Info:\n%s", logs.String())
	}
	b := startOffline(t, t.TempDir(), offlineKeys(t), true)
	defer b.Close()
	if len(b.IMAPAddrs()) != 1 || len(b.SMTPAddrs()) != 1 || len(b.IMAPSAddrs()) != 1 {
		t.Errorf("the bridge listens on %v, %v, %v", b.IMAPAddrs(), b.SMTPAddrs(), b.IMAPSAddrs())
	}
}
