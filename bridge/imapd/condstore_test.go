package imapd

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"umbra/bridge/mailstore"
)

var modseqRe = regexp.MustCompile(`(?:MODSEQ \(?)(\d+)`)

// modseqIn returns the first mod-sequence in lines, 0 if none.
func modseqIn(lines []string) uint64 {
	for _, l := range lines {
		if m := modseqRe.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			return n
		}
	}
	return 0
}

// TestCondStore: CONDSTORE (RFC 7162 §3) over the store's persistent
// mod-sequences: HIGHESTMODSEQ in SELECT and STATUS, MODSEQ in FETCH and
// after STORE, CHANGEDSINCE, UNCHANGEDSINCE with MODIFIED, SEARCH MODSEQ,
// and the sync engine's changes advancing them like a client's.
func TestCondStore(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	m1 := e.add(t, "INBOX", "one", "1", mailstore.Remote)
	e.add(t, "INBOX", "two", "2", mailstore.Remote)
	r := dialRaw(t, e.addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	if l := r.cmd("CAPABILITY"); !strings.Contains(l[0], " CONDSTORE") {
		t.Fatalf("CONDSTORE not advertised: %q", l)
	}
	if l := r.cmd("SELECT INBOX"); indexOf(l, "HIGHESTMODSEQ") >= 0 {
		t.Errorf("HIGHESTMODSEQ before CONDSTORE was enabled: %q", l)
	}
	sel := r.cmd("SELECT INBOX (CONDSTORE)")
	highest := modseqIn(sel)
	if highest == 0 {
		t.Fatalf("SELECT (CONDSTORE): %q", sel)
	}
	first := modseqIn(r.cmd("FETCH 1 (MODSEQ)"))
	if first == 0 || first > highest {
		t.Fatalf("FETCH MODSEQ %d, HIGHESTMODSEQ %d", first, highest)
	}
	l := r.cmd("STORE 1 +FLAGS (a)")
	stored := modseqIn(l)
	if stored <= highest || indexOf(l, "FLAGS (a") < 0 {
		t.Fatalf("STORE answer %q (mod-sequence after %d)", l, highest)
	}
	if l := r.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE " + strconv.FormatUint(highest, 10) + ")"); len(l) != 2 || !strings.HasPrefix(l[0], "* 1 FETCH") || modseqIn(l) != stored {
		t.Errorf("CHANGEDSINCE: %q", l)
	}
	l = r.cmd("STORE 1:2 (UNCHANGEDSINCE " + strconv.FormatUint(highest, 10) + ") +FLAGS (b)")
	if last := l[len(l)-1]; !strings.Contains(last, "OK [MODIFIED 1]") || indexOf(l, "* 2 FETCH") < 0 || indexOf(l, "* 1 FETCH") >= 0 {
		t.Errorf("UNCHANGEDSINCE: %q", l)
	}
	if l := r.cmd("UID STORE 1 (UNCHANGEDSINCE 1) -FLAGS (a)"); !strings.Contains(l[len(l)-1], "OK [MODIFIED 1]") {
		t.Errorf("UID STORE UNCHANGEDSINCE: %q", l)
	}
	// .SILENT still reports a changed message's MODSEQ (RFC 7162 §3.1.3).
	if l := r.cmd("STORE 2 +FLAGS.SILENT (a)"); len(l) != 2 || !strings.HasPrefix(l[0], "* 2 FETCH (UID 2 MODSEQ (") || strings.Contains(l[0], "FLAGS") {
		t.Errorf("STORE .SILENT under CONDSTORE: %q", l)
	}
	if l := r.cmd("STORE 2 +FLAGS.SILENT (a)"); len(l) != 1 {
		t.Errorf("STORE .SILENT that changes nothing: %q", l)
	}
	l = r.cmd("SEARCH MODSEQ " + strconv.FormatUint(stored, 10))
	if len(l) != 2 || !strings.HasPrefix(l[0], "* SEARCH 1 2 (MODSEQ ") {
		t.Errorf("SEARCH MODSEQ: %q", l)
	}
	now := modseqIn(l[:1]) // "* SEARCH 1 2 (MODSEQ n)"
	if st := r.cmd("STATUS INBOX (HIGHESTMODSEQ)"); !strings.Contains(st[0], "HIGHESTMODSEQ "+strconv.FormatUint(now, 10)) {
		t.Errorf("STATUS HIGHESTMODSEQ %q, want %d", st, now)
	}
	// Another device's change, through the sync engine, advances it too,
	// and the unsolicited FETCH carries the MODSEQ.
	if _, err := e.store.SetFlags(t.Context(), m1.ID, []string{`\Flagged`}, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	if l := r.cmd("NOOP"); indexOf(l, `* 1 FETCH (UID 1 FLAGS (\Flagged`) < 0 || modseqIn(l) <= now {
		t.Errorf("unsolicited FETCH after a remote change: %q (after %d)", l, now)
	}
	for _, c := range []string{"SELECT INBOX (BOGUS)", "FETCH 1 FLAGS (CHANGEDSINCE x)", "STORE 1 (UNCHANGEDSINCE) +FLAGS (a)", "SEARCH MODSEQ"} {
		if l := r.cmd(c); !strings.Contains(l[len(l)-1], " BAD ") {
			t.Errorf("%s: %q", c, l)
		}
	}
}
