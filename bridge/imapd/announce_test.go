package imapd

import (
	"net"
	"slices"
	"strings"
	"testing"

	"umbra/bridge/mailstore"
)

// indexOf returns the index of the first line containing s, or -1.
func indexOf(lines []string, s string) int {
	return slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, s) })
}

// TestNewKeywordAnnounced: a keyword new to the selected mailbox comes
// with untagged FLAGS and PERMANENTFLAGS (RFC 9051 §7.3.5), before the
// FETCH that shows it, to the session that stored it and to the others.
func TestNewKeywordAnnounced(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.add(t, "INBOX", "one", "body", mailstore.Remote)
	a, b := dialRaw(t, e.addr), dialRaw(t, e.addr)
	for _, r := range []*rawConn{a, b} {
		r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
		r.cmd("SELECT INBOX")
	}
	got := a.cmd("STORE 1 +FLAGS ($Important)")
	flags, perm, fetch := indexOf(got, "* FLAGS ("), indexOf(got, "[PERMANENTFLAGS ("), indexOf(got, "FETCH")
	if flags < 0 || perm < 0 || fetch < flags || !strings.Contains(got[flags], "$Important") || !strings.Contains(got[perm], `$Important \*`) {
		t.Errorf("STORE of a new keyword: %q", got)
	}
	got = b.cmd("NOOP")
	flags, fetch = indexOf(got, "* FLAGS ("), indexOf(got, "FETCH")
	if flags < 0 || fetch < flags || !strings.Contains(got[flags], "$Important") || indexOf(got, "PERMANENTFLAGS") < 0 {
		t.Errorf("other session's NOOP: %q", got)
	}
	// Told once: a second message with the keyword announces nothing.
	if got := a.cmd("STORE 1 +FLAGS ($Important)"); indexOf(got, "* FLAGS") >= 0 {
		t.Errorf("keyword announced twice: %q", got)
	}
	// A read-only session gets FLAGS but no PERMANENTFLAGS (RFC 9051 §6.3.3).
	c := dialRaw(t, e.addr)
	c.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	c.cmd("EXAMINE INBOX")
	a.cmd("STORE 1 +FLAGS ($Later)")
	if got := c.cmd("NOOP"); indexOf(got, "$Later") < 0 || indexOf(got, "PERMANENTFLAGS") >= 0 {
		t.Errorf("read-only session's NOOP: %q", got)
	}
}

// TestRecent: \Recent as IMAP4rev1 defines it (RFC 3501 §2.3.2) and
// Dovecot implements it: a message is recent to the first session that
// selects its mailbox after it arrived, or to one session that has it
// selected when it arrives; EXAMINE shows it without claiming it.
func TestRecent(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.add(t, "INBOX", "one", "body", mailstore.Remote)

	ex := dialRaw(t, e.addr)
	ex.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	if got := ex.cmd("EXAMINE INBOX"); indexOf(got, "* 1 RECENT") < 0 {
		t.Errorf("EXAMINE: %q", got)
	}
	if got := ex.cmd("STATUS Sent (RECENT)"); indexOf(got, "RECENT 0") < 0 {
		t.Errorf("STATUS: %q", got)
	}

	a := dialRaw(t, e.addr)
	a.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	if got := a.cmd("STATUS INBOX (RECENT)"); indexOf(got, "RECENT 1") < 0 {
		t.Errorf("STATUS before SELECT: %q", got)
	}
	if got := a.cmd("SELECT INBOX"); indexOf(got, "* 1 RECENT") < 0 {
		t.Errorf("first SELECT: %q", got)
	}
	if got := a.cmd("FETCH 1 FLAGS"); indexOf(got, `\Recent`) < 0 {
		t.Errorf("FETCH in the first session: %q", got)
	}
	if got := a.cmd("SEARCH RECENT"); indexOf(got, "* SEARCH 1") < 0 {
		t.Errorf("SEARCH RECENT: %q", got)
	}

	b := dialRaw(t, e.addr)
	b.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	if got := b.cmd("SELECT INBOX"); indexOf(got, "* 0 RECENT") < 0 {
		t.Errorf("second SELECT: %q", got)
	}
	if got := b.cmd("FETCH 1 FLAGS"); indexOf(got, `\Recent`) >= 0 {
		t.Errorf("FETCH in the second session: %q", got)
	}

	// New mail while both have it selected: one of them gets it.
	e.add(t, "INBOX", "two", "body", mailstore.Remote)
	ga, gb := a.cmd("NOOP"), b.cmd("NOOP")
	if (indexOf(ga, "* 2 RECENT") >= 0) == (indexOf(gb, "* 1 RECENT") >= 0) {
		t.Errorf("new mail recent to one session: %q and %q", ga, gb)
	}
	if indexOf(ga, "* 2 EXISTS") < 0 || indexOf(gb, "* 2 EXISTS") < 0 {
		t.Errorf("EXISTS: %q and %q", ga, gb)
	}
	if got := ex.cmd("STATUS INBOX (RECENT)"); indexOf(got, "RECENT 0") < 0 {
		t.Errorf("STATUS after the claims: %q", got)
	}

	// IMAP4rev2 has no \Recent (RFC 9051 Appendix E).
	c := dialRaw(t, e.addr)
	c.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	c.cmd("ENABLE IMAP4rev2")
	e.add(t, "INBOX", "three", "body", mailstore.Remote)
	// RFC 9051 §6.3.2: SELECT also answers LIST with the mailbox's name.
	if got := c.cmd("SELECT inbox"); indexOf(got, "RECENT") >= 0 || indexOf(got, `* LIST () "/" INBOX`) < 0 {
		t.Errorf("IMAP4rev2 SELECT: %q", got)
	}
	if got := c.cmd("FETCH 3 FLAGS"); indexOf(got, `\Recent`) >= 0 {
		t.Errorf("IMAP4rev2 FETCH: %q", got)
	}
}

// TestRecentSurvivesRestart: what a session claimed stays claimed for a
// new server over the same store (the bridge restarted), as in Dovecot.
func TestRecentSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.add(t, "INBOX", "one", "body", mailstore.Remote)
	a := dialRaw(t, e.addr)
	a.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	if got := a.cmd("SELECT INBOX"); indexOf(got, "* 1 RECENT") < 0 {
		t.Fatalf("first SELECT: %q", got)
	}
	srv, err := New(Options{Store: e.store, Username: testUser, Password: testPass})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	b := dialRaw(t, ln.Addr().String())
	b.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	if got := b.cmd("SELECT INBOX"); indexOf(got, "* 0 RECENT") < 0 {
		t.Errorf("SELECT after the restart: %q", got)
	}
}
