package imapd

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/mailstore"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.add(t, "INBOX", "Grüße aus München", "servus", mailstore.Remote, `\Seen`)             // 1
	e.add(t, "INBOX", "=?utf-8?q?Caf=C3=A9_cr=C3=A8me?=", "menu", mailstore.Remote)         // 2
	e.add(t, "INBOX", "quarterly report", "numbers inside", mailstore.Remote, `\Flagged`)   // 3
	e.add(t, "INBOX", "lunch", "a long body "+string(make([]byte, 2000)), mailstore.Remote) // 4
	c := e.selectBox(t, "INBOX", nil)

	search := func(crit *imap.SearchCriteria) []imap.UID {
		t.Helper()
		data, err := c.UIDSearch(crit, nil).Wait()
		if err != nil {
			t.Fatalf("UID SEARCH %+v: %v", crit, err)
		}
		return data.AllUIDs()
	}
	hdr := func(k, v string) *imap.SearchCriteria {
		return &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: k, Value: v}}}
	}
	for _, tc := range []struct {
		name string
		crit *imap.SearchCriteria
		want []imap.UID
	}{
		{"utf-8 subject", hdr("Subject", "münchen"), []imap.UID{1}},
		{"encoded-word subject", hdr("Subject", "crème"), []imap.UID{2}},
		{"from", hdr("From", "bob@b.test"), []imap.UID{1, 2, 3, 4}},
		{"other header", hdr("Message-ID", "@b.test"), []imap.UID{1, 2, 3, 4}},
		{"header present", hdr("X-Missing", ""), nil},
		{"body", &imap.SearchCriteria{Body: []string{"numbers"}}, []imap.UID{3}},
		{"text", &imap.SearchCriteria{Text: []string{"servus"}}, []imap.UID{1}},
		{"seen", &imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, []imap.UID{1}},
		{"unseen", &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []imap.UID{2, 3, 4}},
		{"larger", &imap.SearchCriteria{Larger: 1000}, []imap.UID{4}},
		{"smaller", &imap.SearchCriteria{Smaller: 1000}, []imap.UID{1, 2, 3}},
		{"not", &imap.SearchCriteria{Not: []imap.SearchCriteria{{Flag: []imap.Flag{imap.FlagFlagged}}}}, []imap.UID{1, 2, 4}},
		{"or", &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{*hdr("Subject", "lunch"), {Flag: []imap.Flag{imap.FlagSeen}}}}}, []imap.UID{1, 4}},
		{"uid set", &imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(2, 3, 9)}}, []imap.UID{2, 3}},
		{"seq set", &imap.SearchCriteria{SeqNum: []imap.SeqSet{imap.SeqSetNum(4)}}, []imap.UID{4}},
		{"since", &imap.SearchCriteria{Since: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)}, []imap.UID{1, 2, 3, 4}},
		{"before", &imap.SearchCriteria{Before: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)}, nil},
		{"sent before", &imap.SearchCriteria{SentBefore: time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)}, []imap.UID{1, 2, 3, 4}},
		{"and", &imap.SearchCriteria{Text: []string{"report"}, Flag: []imap.Flag{imap.FlagFlagged}}, []imap.UID{3}},
	} {
		if got := search(tc.crit); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}

	// Sequence-number SEARCH with ESEARCH return options, and SAVE.
	data, err := c.Search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}},
		&imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true, ReturnSave: true}).Wait()
	if err != nil || data.Min != 2 || data.Max != 4 || data.Count != 3 {
		t.Fatalf("ESEARCH = %+v, %v", data, err)
	}
	// imapclient cannot collect FETCH $ (it drops the responses as
	// unsolicited), so check the saved result over a raw connection.
	r := dialRaw(t, e.addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	r.cmd("SELECT INBOX")
	r.cmd("SEARCH RETURN (SAVE) UNSEEN")
	lines := r.cmd("FETCH $ (UID)")
	if !slices.Equal(lines, []string{"* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)", "t4 OK FETCH completed"}) {
		t.Errorf("FETCH $ = %q", lines)
	}
	if lines := r.cmd("UID SEARCH UID $ FLAGGED"); lines[0] != "* SEARCH 3" {
		t.Errorf("UID SEARCH UID $ FLAGGED = %q", lines)
	}
}

// TestSearchToAndCc: the store indexes To and Cc together; SEARCH TO and
// SEARCH CC each match their own field only.
func TestSearchToAndCc(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.add(t, "INBOX", "plain", "one", mailstore.Remote)                                      // 1: To alice
	e.add(t, "INBOX", "copied\r\nCc: Carol Example <carol@c.test>", "two", mailstore.Remote) // 2: To alice, Cc carol
	c := e.selectBox(t, "INBOX", nil)
	for _, tc := range []struct {
		key, value string
		want       []imap.UID
	}{
		{"To", "alice@a.test", []imap.UID{1, 2}},
		{"To", "carol", nil},
		{"Cc", "carol@c.test", []imap.UID{2}},
		{"Cc", "alice", nil},
	} {
		data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: tc.key, Value: tc.value}}}, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if got := data.AllUIDs(); !slices.Equal(got, tc.want) {
			t.Errorf("SEARCH %s %q: got %v, want %v", tc.key, tc.value, got, tc.want)
		}
	}
}

// TestSearchSubstrings: BODY and TEXT match substrings, ignoring case
// (RFC 3501 §6.4.4), not words or word beginnings; FROM finds an address
// written with comments by its bare address and by its name.
func TestSearchSubstrings(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	for _, m := range []string{
		"From: bob@b.test (Bob Builder)\r\nSubject: one\r\n\r\nHello World, it is a greeting\r\n",
		"From: \"Eve E.\" <eve(work)@e.test>\r\nSubject: two\r\n\r\nnothing here\r\n",
	} {
		if _, _, err := e.store.Add(t.Context(), mailstore.NewMessage{Key: rand.Text(), Mailbox: "INBOX", MIME: []byte(m)}, mailstore.Remote); err != nil {
			t.Fatal(err)
		}
	}
	r := dialRaw(t, e.addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	r.cmd("SELECT INBOX")
	for c, want := range map[string]string{
		`SEARCH BODY "ELL"`:         "* SEARCH 1",
		`SEARCH BODY "lo wor"`:      "* SEARCH 1",
		`SEARCH TEXT "reeting"`:     "* SEARCH 1",
		`SEARCH TEXT "othing"`:      "* SEARCH 2",
		`SEARCH FROM "eve@e.test"`:  "* SEARCH 2",
		`SEARCH FROM "Bob Builder"`: "* SEARCH 1",
		`SEARCH FROM "bob@b.test"`:  "* SEARCH 1",
		`SEARCH BODY "absent"`:      "* SEARCH",
	} {
		if got := r.cmd(c); got[0] != want {
			t.Errorf("%s: %q, want %q", c, got, want)
		}
	}
}
