package connguard

import (
	"bufio"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestLimits fills the per-address and total limits over loopback and
// checks that refused clients read the refusal, served ones are kept, and
// closing a served connection frees its slot.
func TestLimits(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(raw, Limits{MaxConns: 3, MaxPerAddr: 2}, func(c net.Conn, why Refusal) {
		fmt.Fprintf(c, "421 %s\r\n", why)
	})
	defer l.Close()
	served := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(served)
				return
			}
			fmt.Fprintf(c, "220 hello\r\n")
			served <- c
		}
	}()
	dial := func(src string) string {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("from %s: %v", src, err)
		}
		return line
	}
	for i, want := range []string{"220 hello\r\n", "220 hello\r\n", "421 too many connections from your address\r\n"} {
		if got := dial("127.0.0.1"); got != want {
			t.Fatalf("connection %d from 127.0.0.1: %q, want %q", i, got, want)
		}
	}
	if got := dial("127.0.0.2"); got != "220 hello\r\n" {
		t.Fatalf("127.0.0.2: %q", got)
	}
	if got := dial("127.0.0.3"); got != "421 too many connections\r\n" {
		t.Fatalf("127.0.0.3 over the total: %q", got)
	}
	if s := l.Stats(); s.Open != 3 || s.Refused != 2 {
		t.Fatalf("stats %+v, want 3 open, 2 refused", s)
	}
	c := <-served
	c.Close()
	c.Close() // a second Close must not free a second slot
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Open != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed: %+v", l.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := dial("127.0.0.1"); got != "220 hello\r\n" {
		t.Fatalf("after a close, 127.0.0.1: %q", got)
	}
	if s := l.Stats(); s.Open != 3 {
		t.Fatalf("double Close freed two slots: %+v", s)
	}
}

func TestAddrKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7:25", "192.0.2.7/32"},
		{"[::ffff:192.0.2.7]:25", "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:25", "2001:db8:1:2::/64"},
		{"[::1]:1143", "::/64"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := addrKey(a).String(); got != tc.want {
			t.Errorf("addrKey(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if addrKey(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}).IsValid() {
		t.Error("a Unix address has a key")
	}
}
