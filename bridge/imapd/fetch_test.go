package imapd

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"umbra/bridge/mailstore"
)

const multipartMsg = "From: =?utf-8?q?J=C3=BCrgen?= <jurgen@b.test>\r\n" +
	"To: Alice <alice@a.test>, carol@c.test\r\n" +
	"Cc: dave@d.test\r\n" +
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"Date: Mon, 11 Mar 2024 09:30:00 +0100\r\n" +
	"Message-ID: <abc@b.test>\r\n" +
	"In-Reply-To: <xyz@a.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=sep\r\n" +
	"\r\n" +
	"--sep\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hello Alice\r\n" +
	"--sep\r\n" +
	"Content-Type: application/octet-stream\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"AAECAw==\r\n" +
	"--sep--\r\n"

func TestAppendAndFetch(t *testing.T) {
	t.Parallel()
	var stamped [][]byte
	e := start(t, func(o *Options) {
		o.Stamp = func(b []byte) []byte {
			stamped = append(stamped, b)
			return testStamp(b)
		}
		o.NewKey = func() string { return "key-" + time.Now().Format(time.RFC3339Nano) }
	})
	c := e.selectBox(t, "INBOX", nil)

	date := time.Date(2024, 3, 11, 8, 30, 0, 0, time.UTC)
	data := appendMsg(t, c, "INBOX", []byte(multipartMsg), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged}, Time: date})
	mb, _ := e.store.Mailbox(t.Context(), "INBOX")
	if data.UID != 1 || data.UIDValidity != mb.UIDValidity {
		t.Fatalf("APPENDUID = %+v, want 1 in %d", data, mb.UIDValidity)
	}
	if len(stamped) != 1 || string(stamped[0]) != multipartMsg {
		t.Fatalf("Stamp saw %q", stamped)
	}
	stored := []byte(multipartMsg) // nothing to strip: the client's bytes

	msgs, err := c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{
		Flags: true, InternalDate: true, RFC822Size: true, Envelope: true, UID: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v, %d messages", err, len(msgs))
	}
	m := msgs[0]
	if m.UID != 1 || m.SeqNum != 1 || !slices.Equal(withoutRecent(m.Flags), []imap.Flag{imap.FlagFlagged}) ||
		!m.InternalDate.Equal(date) || m.RFC822Size != int64(len(stored)) {
		t.Errorf("FETCH = uid %d seq %d flags %v date %v size %d", m.UID, m.SeqNum, m.Flags, m.InternalDate, m.RFC822Size)
	}
	env := m.Envelope
	if env == nil || env.Subject != "Grüße" || len(env.From) != 1 || env.From[0].Name != "Jürgen" ||
		env.From[0].Addr() != "jurgen@b.test" || len(env.To) != 2 || env.To[1].Addr() != "carol@c.test" ||
		len(env.Cc) != 1 || env.MessageID != "abc@b.test" || !slices.Equal(env.InReplyTo, []string{"xyz@a.test"}) ||
		!env.Date.Equal(time.Date(2024, 3, 11, 8, 30, 0, 0, time.UTC)) {
		t.Errorf("ENVELOPE = %+v", env)
	}
	bs, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || bs.Subtype != "mixed" || len(bs.Children) != 2 {
		t.Fatalf("BODYSTRUCTURE = %#v", m.BodyStructure)
	}
	if p := bs.Children[0].(*imap.BodyStructureSinglePart); p.Type != "text" || p.Subtype != "plain" {
		t.Errorf("part 1 = %+v", p)
	}

	// PEEK leaves \Seen alone; sections, partials, binary.
	whole := &imap.FetchItemBodySection{Peek: true}
	header := &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}}
	part1 := &imap.FetchItemBodySection{Peek: true, Part: []int{1}}
	partial := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 3, Size: 10}}
	bin := &imap.FetchItemBinarySection{Peek: true, Part: []int{2}}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		BodySection:       []*imap.FetchItemBodySection{whole, header, part1, partial},
		BinarySection:     []*imap.FetchItemBinarySection{bin},
		BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{2}}},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH sections: %v", err)
	}
	m = msgs[0]
	if got := m.FindBodySection(whole); !bytes.Equal(got, stored) {
		t.Errorf("BODY[] = %q", got)
	}
	if got := m.FindBodySection(header); string(got) != "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\n" {
		t.Errorf("BODY[HEADER.FIELDS (Subject)] = %q", got)
	}
	if got := m.FindBodySection(part1); string(got) != "Hello Alice" {
		t.Errorf("BODY[1] = %q", got)
	}
	if got := m.FindBodySection(partial); !bytes.Equal(got, stored[3:13]) {
		t.Errorf("BODY[]<3.10> = %q", got)
	}
	if got := m.FindBinarySection(bin); !bytes.Equal(got, []byte{0, 1, 2, 3}) {
		t.Errorf("BINARY[2] = %q", got)
	}
	if n, ok := m.FindBinarySectionSize([]int{2}); !ok || n != 4 {
		t.Errorf("BINARY.SIZE[2] = %d, %v", n, ok)
	}
	if flags := fetchFlags(t, c, 1); slices.Contains(flags, imap.FlagSeen) {
		t.Errorf("PEEK set \\Seen: %v", flags)
	}

	// BODY[] without PEEK sets \Seen and says so in the same response.
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(msgs) != 1 || !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
		t.Fatalf("FETCH BODY[]: %v, %+v", err, msgs)
	}
	if got, _ := e.store.List(t.Context(), mb.ID); !slices.Contains(got[0].Flags, `\Seen`) {
		t.Errorf("stored flags %v lack \\Seen", got[0].Flags)
	}

	// APPEND to a missing mailbox asks the client to create it.
	cmd := c.Append("Nowhere", 5, nil)
	cmd.Write([]byte("a: b\n"))
	cmd.Close()
	_, err = cmd.Wait()
	wantCode(t, err, imap.ResponseCodeTryCreate)
}

// fetchFlags returns the flags of the message with sequence number seq.
func fetchFlags(t *testing.T, c *imapclient.Client, seq uint32) []imap.Flag {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH %d FLAGS: %v (%d messages)", seq, err, len(msgs))
	}
	return withoutRecent(msgs[0].Flags)
}

func TestExamineIsReadOnly(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.add(t, "INBOX", "hello", "body", mailstore.Remote)
	c := e.login(t, nil)
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	if flags := fetchFlags(t, c, 1); len(flags) != 0 {
		t.Errorf("FETCH BODY[] under EXAMINE set %v", flags)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err == nil {
		t.Error("STORE under EXAMINE succeeded")
	}
	if err := c.Expunge().Close(); err == nil {
		t.Error("EXPUNGE under EXAMINE succeeded")
	}
}

func TestFetchSequenceEdges(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	for _, s := range []string{"a", "b", "c"} {
		e.add(t, "INBOX", s, s, mailstore.Remote)
	}
	c := e.selectBox(t, "INBOX", nil)
	uidsOf := func(set imap.NumSet) []imap.UID {
		t.Helper()
		msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true}).Collect()
		if err != nil {
			t.Fatalf("FETCH %v: %v", set, err)
		}
		var out []imap.UID
		for _, m := range msgs {
			out = append(out, m.UID)
		}
		return out
	}
	var star imap.SeqSet
	star.AddRange(2, 0) // 2:*
	if got := uidsOf(star); !slices.Equal(got, []imap.UID{2, 3}) {
		t.Errorf("2:* = %v", got)
	}
	// UID 10:* is the last message (RFC 9051 §6.4.8); imapclient drops
	// it as unsolicited, so ask over a raw connection.
	r := dialRaw(t, e.addr)
	r.cmd("LOGIN " + testUser + ` "` + testPass + `"`)
	r.cmd("SELECT INBOX")
	if lines := r.cmd("UID FETCH 10:* (FLAGS)"); !slices.Equal(lines[:1], []string{"* 3 FETCH (UID 3 FLAGS ())"}) {
		t.Errorf("UID FETCH 10:* = %q", lines)
	}
	// A sequence number past EXISTS is a protocol error (RFC 3501
	// §2.3.1.2), BAD as in Dovecot.
	if l := r.cmd("FETCH 9 (UID)"); len(l) != 1 || !strings.Contains(l[0], " BAD ") {
		t.Errorf("FETCH 9 = %q", l)
	}
}

// TestFetchMalformed fetches every item of messages no sender should
// write but anyone can: the session must answer, not drop the connection.
func TestFetchMalformed(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	c := e.selectBox(t, "INBOX", nil)
	for _, raw := range []string{
		"no header at all",
		"Subject: no blank line",
		"Content-Type: multipart/mixed; boundary=never\r\n\r\nno parts here\r\n",
		"Content-Type: multipart/mixed\r\n\r\n--\r\n",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n",
		"Content-Type: ;;;\r\nContent-Transfer-Encoding: x-unknown\r\nFrom: <<<@@@>>>\r\nDate: yesterday\r\n\r\nbody",
		"From: =?bogus?x?zzz?=\r\nTo: undisclosed-recipients:;\r\nSubject: \xff\xfe\r\n\r\n\x00\x01",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c--\r\n--b--\r\n",
	} {
		data := appendMsg(t, c, "INBOX", []byte(raw), nil)
		huge := &imap.SectionPartial{Offset: 1, Size: 1<<63 - 1}
		msgs, err := c.Fetch(imap.UIDSetNum(data.UID), &imap.FetchOptions{
			Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection: []*imap.FetchItemBodySection{
				{Peek: true}, {Peek: true, Part: []int{1}}, {Peek: true, Part: []int{2, 1}, Specifier: imap.PartSpecifierMIME},
				{Peek: true, Specifier: imap.PartSpecifierText}, {Peek: true, Partial: huge},
			},
			BinarySection:     []*imap.FetchItemBinarySection{{Peek: true, Part: []int{1}}, {Peek: true, Partial: huge}},
			BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{1}}},
		}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Errorf("FETCH of %q: %v (%d messages)", raw, err, len(msgs))
		}
		// BODY (non-extended) too, and the connection is still alive.
		if _, err := c.Fetch(imap.UIDSetNum(data.UID), &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{}}).Collect(); err != nil {
			t.Errorf("FETCH BODY of %q: %v", raw, err)
		}
	}
}
