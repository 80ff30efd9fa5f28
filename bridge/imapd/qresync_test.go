package imapd

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/mailstore"
)

// has reports whether one of lines matches the regular expression re.
func has(lines []string, re string) bool {
	return slices.ContainsFunc(lines, regexp.MustCompile(re).MatchString)
}

// highestModSeq is the HIGHESTMODSEQ a SELECT answered.
func highestModSeq(t *testing.T, lines []string) uint64 {
	t.Helper()
	re := regexp.MustCompile(`\[HIGHESTMODSEQ (\d+)\]`)
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no HIGHESTMODSEQ in %q", lines)
	return 0
}

// qresyncConn logs in and enables QRESYNC.
func qresyncConn(t *testing.T, addr string) *rawConn {
	t.Helper()
	r := dialRaw(t, addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	if lines := r.cmd("ENABLE QRESYNC"); !has(lines, `^\* ENABLED .*QRESYNC`) {
		t.Fatalf("ENABLE QRESYNC: %q", lines)
	}
	return r
}

// qresyncBox adds n messages to the INBOX of the store e serves and
// selects it in a session that enabled QRESYNC; it returns the session,
// the messages, and the UIDVALIDITY and HIGHESTMODSEQ the SELECT answered.
func qresyncBox(t *testing.T, e *testEnv, n int) (*rawConn, []mailstore.Message, string, uint64) {
	t.Helper()
	var ms []mailstore.Message
	for i := range n {
		ms = append(ms, e.add(t, "INBOX", fmt.Sprint("m", i), "body", mailstore.Remote))
	}
	r := qresyncConn(t, e.addr)
	sel := r.cmd("SELECT INBOX")
	uv := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(strings.Join(sel, "\n"))[1]
	return r, ms, uv, highestModSeq(t, sel)
}

// TestQResync: a session that enabled QRESYNC is told of its own, another
// session's and another device's expunges as VANISHED, and a reselect
// with the mod-sequence it last saw gets VANISHED (EARLIER) and the
// changed flags, and CLOSED for the mailbox it left (RFC 7162 §3.2).
func TestQResync(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	r, ms, uv, h := qresyncBox(t, e, 6)

	// Another session's expunge, then another device's: one VANISHED for
	// the run of them.
	o := dialRaw(t, e.addr)
	o.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	o.cmd("SELECT INBOX")
	o.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
	o.cmd("EXPUNGE")
	if err := e.store.Expunge(context.Background(), ms[3].ID, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	o.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)")
	// FETCH may not report expunges (RFC 9051 §7.5.1): while they wait,
	// HIGHESTMODSEQ stays below the first one's mod-sequence (RFC 7162
	// §3.2): the STORE of \Deleted took h+1, the EXPUNGE h+2.
	lines := r.cmd("FETCH 1 (MODSEQ)")
	if has(lines, `VANISHED|EXPUNGE`) || !has(lines, fmt.Sprintf(`^\* OK \[HIGHESTMODSEQ %d\]`, h+1)) {
		t.Errorf("FETCH with expunges waiting: %q (SELECT's HIGHESTMODSEQ %d)", lines, h)
	}
	lines = r.cmd("NOOP")
	if !has(lines, `^\* VANISHED 2,4$`) || has(lines, `EXPUNGE`) {
		t.Errorf("NOOP after two expunges: %q", lines)
	}
	// Its own expunge.
	r.cmd("UID STORE 5 +FLAGS.SILENT (\\Deleted)")
	if lines := r.cmd("EXPUNGE"); !has(lines, `^\* VANISHED 5$`) || has(lines, `EXPUNGE$`) {
		t.Errorf("EXPUNGE: %q", lines)
	}
	lines = r.cmd(fmt.Sprintf("UID FETCH 1:6 (FLAGS) (CHANGEDSINCE %d VANISHED)", h))
	if !has(lines, `^\* VANISHED \(EARLIER\) 2,4:5$`) || !has(lines, `^\* 1 FETCH \(.*UID 1.*\\Flagged.*MODSEQ`) {
		t.Errorf("UID FETCH CHANGEDSINCE VANISHED: %q", lines)
	}
	lines = r.cmd(fmt.Sprintf("SELECT INBOX (QRESYNC (%s %d 1:6))", uv, h))
	if !has(lines, `^\* OK \[CLOSED\]`) || !has(lines, `^\* VANISHED \(EARLIER\) 2,4:5$`) ||
		!has(lines, `^\* 1 FETCH \(.*UID 1.*\\Flagged.*MODSEQ`) || has(lines, `^\* [2-9] FETCH`) {
		t.Errorf("SELECT QRESYNC: %q", lines)
	}
	// Another UIDVALIDITY: the client's cache is void, nothing is sent.
	if lines := r.cmd(fmt.Sprintf("EXAMINE INBOX (QRESYNC (1 %d))", h)); has(lines, `VANISHED|FETCH`) {
		t.Errorf("QRESYNC with another UIDVALIDITY: %q", lines)
	}
	for _, bad := range []string{
		"SELECT INBOX (QRESYNC (" + uv + "))",
		"SELECT INBOX (QRESYNC (" + uv + " 1 1:* (1:2 1:2) 3))",
		"SELECT INBOX (QRESYNC (" + uv + " 1 $))",
		"SELECT INBOX (QRESYNC (0 1))",
		"SELECT INBOX (QRESYNC (" + uv + " 1 (1)))",
		"FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)",
		"UID FETCH 1 (FLAGS) (VANISHED)",
	} {
		if lines := r.cmd(bad); !strings.Contains(lines[len(lines)-1], " BAD ") {
			t.Errorf("%s: %q", bad, lines)
		}
	}
	q := dialRaw(t, e.addr)
	q.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	if lines := q.cmd("SELECT INBOX (QRESYNC (" + uv + " 1))"); !strings.Contains(lines[len(lines)-1], " BAD ") {
		t.Errorf("QRESYNC without ENABLE: %q", lines)
	}
	if lines := q.cmd("SELECT INBOX"); has(lines, `VANISHED`) || !has(lines, `^\* 3 EXISTS`) {
		t.Errorf("SELECT without QRESYNC: %q", lines)
	}
}

// TestQResyncRestart: the expunged UIDs survive a restart of the bridge,
// including one another device expunged while the bridge was down.
func TestQResyncRestart(t *testing.T) {
	t.Parallel()
	st, path, key := openStore(t)
	e := serve(t, st, nil)
	r, ms, uv, h := qresyncBox(t, e, 4)
	r.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
	r.cmd("EXPUNGE")
	e.stop()
	if err := st.Expunge(context.Background(), ms[2].ID, mailstore.Remote); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := mailstore.Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e = serve(t, st, nil)
	r = qresyncConn(t, e.addr)
	if lines := r.cmd(fmt.Sprintf("SELECT INBOX (QRESYNC (%s %d))", uv, h)); !has(lines, `^\* VANISHED \(EARLIER\) 1,3$`) {
		t.Errorf("SELECT QRESYNC after a restart: %q", lines)
	}
}

// TestAbsent: the answer when the store no longer knows the expunges
// (RFC 7162 §3.2.5.2): every UID of the set up to the last handed out
// that is not in the mailbox.
func TestAbsent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set     imap.UIDSet
		present []uint32
		top     imap.UID
		want    string
	}{
		{imap.UIDSet{{Start: 1, Stop: 0}}, []uint32{2, 3, 7}, 9, "1,4:6,8:9"},
		{imap.UIDSet{{Start: 3, Stop: 5}}, []uint32{2, 3, 7}, 9, "4:5"},
		{imap.UIDSet{{Start: 8, Stop: 20}}, []uint32{2}, 9, "8:9"},
		{imap.UIDSet{{Start: 1, Stop: 3}}, []uint32{1, 2, 3}, 9, ""},
		{imap.UIDSet{{Start: 0, Stop: 5}}, nil, 6, "5:6"},
	} {
		if got := absent(tc.set, tc.present, tc.top).String(); got != tc.want {
			t.Errorf("absent(%v, %v, %d) = %q, want %q", tc.set, tc.present, tc.top, got, tc.want)
		}
	}
}
