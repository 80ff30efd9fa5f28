package imapd

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"umbra/bridge/mailstore"
)

// imapLine is a connection for goroutines: it returns errors where
// rawConn fails the test.
type imapLine struct {
	conn net.Conn
	r    *bufio.Reader
	n    int
}

func dialLine(addr string) (*imapLine, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	l := &imapLine{conn: conn, r: bufio.NewReader(conn)}
	if _, err := l.r.ReadString('\n'); err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return l, nil
}

// cmd sends one command and returns its responses; a tagged answer other
// than OK is an error.
func (l *imapLine) cmd(line string) ([]string, error) {
	l.n++
	tag := fmt.Sprintf("c%d", l.n)
	if _, err := fmt.Fprintf(l.conn, "%s %s\r\n", tag, line); err != nil {
		return nil, err
	}
	var out []string
	for {
		s, err := l.r.ReadString('\n')
		if err != nil {
			return out, fmt.Errorf("%s: %w", line, err)
		}
		s = strings.TrimRight(s, "\r\n")
		out = append(out, s)
		if strings.HasPrefix(s, tag+" ") {
			if !strings.HasPrefix(s, tag+" OK") {
				return out, fmt.Errorf("%s: %s", line, s)
			}
			return out, nil
		}
	}
}

// TestConcurrentStoresLoseNothing: sessions storing distinct keywords on
// the same messages at once, with +FLAGS and -FLAGS, end with every
// keyword added and none removed-then-resurrected. STORE used to compute
// the new set from the session's cached copy and write it whole, so
// concurrent sessions overwrote each other (issue 10: 38 of 80 lost).
func TestConcurrentStoresLoseNothing(t *testing.T) {
	t.Parallel()
	for _, sessions := range []int{2, 8} {
		t.Run(fmt.Sprintf("%d sessions", sessions), func(t *testing.T) {
			t.Parallel()
			e := start(t, nil)
			for i := range 3 {
				e.add(t, "INBOX", fmt.Sprintf("m%d", i), "body", mailstore.Remote)
			}
			const rounds = 6 // keywords per session; 8*6+system flags stay under the store's 64
			var wg sync.WaitGroup
			errs := make(chan error, sessions)
			for s := range sessions {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- storeRounds(e.addr, s, rounds)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			msgs, err := e.store.List(t.Context(), mustMailbox(t, e, "INBOX").ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				for s := range sessions {
					for r := range rounds {
						if k := fmt.Sprintf("k%dx%d", s, r); !hasFlag(m.Flags, k) {
							t.Errorf("uid %d lost %s: %v", m.UID, k, m.Flags)
						}
					}
					if k := fmt.Sprintf("tmp%d", s); hasFlag(m.Flags, k) {
						t.Errorf("uid %d kept removed %s", m.UID, k)
					}
				}
			}
		})
	}
}

// storeRounds is one session of TestConcurrentStoresLoseNothing.
func storeRounds(addr string, s, rounds int) error {
	l, err := dialLine(addr)
	if err != nil {
		return err
	}
	defer l.conn.Close()
	if _, err := l.cmd("LOGIN " + testUser + ` "` + testPass + `"`); err != nil {
		return err
	}
	if _, err := l.cmd("SELECT INBOX"); err != nil {
		return err
	}
	for r := range rounds {
		for _, c := range []string{
			fmt.Sprintf("STORE 1:* +FLAGS.SILENT (k%dx%d tmp%d)", s, r, s),
			fmt.Sprintf("UID STORE 1:* -FLAGS.SILENT (tmp%d)", s),
			"NOOP",
		} {
			if _, err := l.cmd(c); err != nil {
				return fmt.Errorf("session %d: %w", s, err)
			}
		}
	}
	return nil
}

func mustMailbox(t *testing.T, e *testEnv, name string) mailstore.Mailbox {
	t.Helper()
	mb, err := e.store.Mailbox(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return mb
}
