package imapd

import (
	"context"
	"slices"
	"strings"
	"testing"

	"umbra/bridge/mailstore"
)

// TestOtherProcessExpunges: what another process (the CLI, on its own
// Store over the same files) expunges or moves reaches the sessions that
// have the mailbox selected at once, through the bridge's Check: EXPUNGE
// (RFC 9051 §7.5.1), VANISHED with QRESYNC (RFC 7162 §3.2.10), and the
// moved message in its new mailbox, which the server kept loaded without
// a session (Server.idle).
func TestOtherProcessExpunges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, path, key := openStore(t)
	e := serve(t, st, nil)
	var ms []mailstore.Message
	for _, s := range []string{"one", "two", "three", "four"} {
		ms = append(ms, e.add(t, "INBOX", s, "body", mailstore.Remote))
	}
	e.add(t, "Archive", "old", "body", mailstore.Remote)

	plain := dialRaw(t, e.addr)
	plain.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	// Archive is loaded, then left: it stays loaded, idle.
	plain.cmd("SELECT Archive")
	plain.cmd("SELECT INBOX")
	q := qresyncConn(t, e.addr)
	q.cmd("SELECT INBOX")

	w, err := st.NewWatch()
	if err != nil {
		t.Fatal(err)
	}
	other, err := mailstore.Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Expunge(ctx, ms[1].ID, mailstore.Local); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Move(ctx, ms[2].ID, "Archive", mailstore.Local); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Check(w); err != nil {
		t.Fatal(err)
	}

	lines := plain.cmd("NOOP")
	expunges := slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return !strings.Contains(l, "EXPUNGE") })
	if !slices.Equal(expunges, []string{"* 2 EXPUNGE", "* 2 EXPUNGE"}) {
		t.Errorf("NOOP after the other's expunge and move: %q, want EXPUNGE 2 twice", lines)
	}
	if lines := plain.cmd("FETCH 1:* (UID)"); !has(lines, `^\* 1 FETCH \(UID 1\)$`) || !has(lines, `^\* 2 FETCH \(UID 4\)$`) || len(lines) != 3 {
		t.Errorf("FETCH after them: %q", lines)
	}
	if lines := q.cmd("NOOP"); !has(lines, `^\* VANISHED 2:3$`) || has(lines, `EXPUNGE`) {
		t.Errorf("NOOP with QRESYNC: %q", lines)
	}
	if lines := plain.cmd("SELECT Archive"); !has(lines, `^\* 2 EXISTS$`) {
		t.Errorf("SELECT of the idle mailbox the message moved to: %q", lines)
	}
	if lines := plain.cmd("FETCH 2 (UID BODY.PEEK[HEADER.FIELDS (Subject)])"); !has(lines, `^Subject: three$`) {
		t.Errorf("FETCH of the moved message: %q", lines)
	}
}
