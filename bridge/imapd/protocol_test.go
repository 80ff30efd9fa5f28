package imapd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestOversizeLiteral: a literal larger than the command may take gets an
// answer at once, never a wait for bytes the client will not send (the
// upstream parser dropped the refusal and hung) and never an allocation.
func TestOversizeLiteral(t *testing.T) {
	t.Parallel()
	e := start(t, nil)

	// Synchronizing: NO [TOOBIG]; the connection goes on.
	r := dialRaw(t, e.addr)
	r.conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(r.conn, "a1 LOGIN {4294967295}\r\n")
	if l := r.line(); !strings.HasPrefix(l, "a1 NO [TOOBIG] ") {
		t.Fatalf("LOGIN {4294967295}: %q", l)
	}
	if l := r.cmd("LOGIN " + testUser + ` "` + testPass + `"`); !strings.Contains(l[len(l)-1], " OK ") {
		t.Fatalf("LOGIN after the refusal: %q", l)
	}
	for _, c := range []string{"SEARCH TEXT {5000}", "SELECT {4097}", "APPEND INBOX {4294967295}"} {
		fmt.Fprintf(r.conn, "b1 %s\r\n", c)
		if l := r.line(); !strings.HasPrefix(l, "b1 NO [TOOBIG] ") {
			t.Fatalf("%s: %q", c, l)
		}
	}

	// Non-synchronizing: its bytes are on their way, so BAD, then BYE.
	for _, c := range []string{"LOGIN {4294967295+}", "LOGIN alice {5000+}", "APPEND INBOX {10+}"} {
		r := dialRaw(t, e.addr)
		r.conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(r.conn, "a1 %s\r\n", c)
		if l := r.line(); !strings.HasPrefix(l, "a1 BAD ") {
			t.Fatalf("%s: %q", c, l)
		}
		if l := r.line(); !strings.HasPrefix(l, "* BYE ") {
			t.Fatalf("%s: then %q", c, l)
		}
	}

	// A small literal before authentication is fine.
	r = dialRaw(t, e.addr)
	if l := r.cmd(fmt.Sprintf("LOGIN {%d+}\r\n%s {%d+}\r\n%s", len(testUser), testUser, len(testPass), testPass)); !strings.Contains(l[len(l)-1], " OK ") {
		t.Fatalf("LOGIN with literals: %q", l)
	}
}

// TestBadInputIsNotServerBug: input the parser cannot take is the
// client's mistake, answered BAD with a text that says what is wrong.
func TestBadInputIsNotServerBug(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	r := dialRaw(t, e.addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	r.cmd("SELECT INBOX")
	for _, c := range []string{"SEARCH FOO", "SEARCH 1:x", "UID SEARCH BOGUS 1", "FETCH x FLAGS", "FETCH 0 FLAGS",
		"SEARCH SINCE yesterday", `APPEND INBOX "32-Foo-2024 00:00:00 +0000" {1+}` + "\r\nx", `CREATE "unterminated`,
		"SELECT &Jjo", `LSUB "" & `, `LIST "" &-&`} {
		l := r.cmd(c)
		last := l[len(l)-1]
		if !strings.Contains(last, " BAD ") || strings.Contains(last, "SERVERBUG") {
			t.Errorf("%s: %q", c, l)
		}
	}
}

// TestCloseAfterExamine: CLOSE of a read-only mailbox removes nothing,
// succeeds and leaves the selected state (RFC 3501 §6.4.2).
func TestCloseAfterExamine(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.add(t, "INBOX", "keep", "body", 0, `\Deleted`)
	r := dialRaw(t, e.addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	r.cmd("EXAMINE INBOX")
	if l := r.cmd("CLOSE"); !strings.Contains(l[len(l)-1], " OK ") {
		t.Fatalf("CLOSE after EXAMINE: %q", l)
	}
	if l := r.cmd("FETCH 1 FLAGS"); !strings.Contains(l[len(l)-1], " BAD ") {
		t.Fatalf("FETCH after CLOSE (no mailbox selected): %q", l)
	}
	if l := r.cmd("STATUS INBOX (MESSAGES)"); !strings.Contains(strings.Join(l, "\n"), "MESSAGES 1") {
		t.Fatalf("CLOSE after EXAMINE expunged: %q", l)
	}
}

// TestOneLiteralCapability: LITERAL+ and LITERAL- are alternatives (RFC
// 7888 §5); a server advertises one of them.
func TestOneLiteralCapability(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	r := dialRaw(t, e.addr)
	for _, l := range [][]string{r.cmd("CAPABILITY"), r.cmd("LOGIN " + testUser + ` "` + testPass + `"`), r.cmd("CAPABILITY")} {
		all := strings.Join(l, "\n")
		if strings.Contains(all, "LITERAL+") == strings.Contains(all, "LITERAL-") {
			t.Errorf("capabilities %q", all)
		}
	}
}

// TestID: ID (RFC 2971) in any state, with the client's list or NIL.
func TestID(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	r := dialRaw(t, e.addr)
	if l := r.cmd("CAPABILITY"); !strings.Contains(l[0], " ID") {
		t.Errorf("ID not advertised: %q", l)
	}
	for _, c := range []string{`ID ("name" "test" "version" "1.0")`, "ID NIL", `ID ("os" NIL)`} {
		l := r.cmd(c)
		if len(l) != 2 || l[0] != `* ID ("name" "Umbra bridge" "vendor" "Umbra")` || !strings.Contains(l[1], " OK ") {
			t.Errorf("%s: %q", c, l)
		}
	}
	for _, c := range []string{"ID", "ID (", `ID ("name")`, "ID " + "(" + strings.Repeat(`"k" "v" `, 31) + ")"} {
		if l := r.cmd(c); !strings.Contains(l[len(l)-1], " BAD ") {
			t.Errorf("%s: %q", c, l)
		}
	}
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	if l := r.cmd("ID NIL"); !strings.HasPrefix(l[0], "* ID (") {
		t.Errorf("ID when logged in: %q", l)
	}
}

// TestSequenceNumbersOfExpungedMessages: a message another session
// expunged keeps its sequence number for this one until an EXPUNGE can
// be reported (not during FETCH, RFC 3501 §7.4.1), so FETCH of it is no
// protocol error; past that, a sequence number beyond EXISTS is BAD.
func TestSequenceNumbersOfExpungedMessages(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	m := e.add(t, "INBOX", "one", "body", 0)
	a := dialRaw(t, e.addr)
	a.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	a.cmd("SELECT INBOX")
	if err := e.store.Expunge(t.Context(), m.ID, 0); err != nil {
		t.Fatal(err)
	}
	if l := a.cmd("FETCH 1 (UID)"); !strings.Contains(l[len(l)-1], " OK ") || indexOf(l, "EXPUNGE") >= 0 {
		t.Errorf("FETCH of a message expunged elsewhere: %q", l)
	}
	if l := a.cmd("NOOP"); indexOf(l, "* 1 EXPUNGE") < 0 {
		t.Errorf("NOOP: %q", l)
	}
	if l := a.cmd("FETCH 1 (UID)"); !strings.Contains(l[len(l)-1], " BAD ") {
		t.Errorf("FETCH 1 of an empty mailbox: %q", l)
	}
}
