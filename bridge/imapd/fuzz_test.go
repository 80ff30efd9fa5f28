package imapd

import (
	"testing"

	"github.com/emersion/go-imap/v2"
)

// FuzzFetchMessage stores arbitrary bytes as a message (anyone can send
// one) and fetches every item of it through a real session: the server
// must answer each FETCH, never drop the connection (imapserver turns a
// panic into a closed connection).
func FuzzFetchMessage(f *testing.F) {
	f.Add([]byte(multipartMsg))
	f.Add([]byte("Subject: no blank line"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=never\r\n\r\nno parts\r\n"))
	f.Add([]byte("Content-Type: ;;;\r\n\r\nbody"))
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/digest; boundary=x\r\n\r\n--x\r\n\r\n--x--"))
	f.Add([]byte("From: =?bogus?x?zzz?=\r\nTo: a:;\r\n\r\n\x00"))

	e := start(f, nil)
	c := e.selectBox(f, "INBOX", nil)
	huge := &imap.SectionPartial{Offset: 7, Size: 1<<63 - 1}
	opts := &imap.FetchOptions{
		Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection: []*imap.FetchItemBodySection{
			{Peek: true}, {Peek: true, Part: []int{1}}, {Peek: true, Part: []int{1, 2}, Specifier: imap.PartSpecifierMIME},
			{Peek: true, Part: []int{2}, Specifier: imap.PartSpecifierHeader}, {Peek: true, Specifier: imap.PartSpecifierText},
			{Peek: true, Partial: huge},
		},
		BinarySection:     []*imap.FetchItemBinarySection{{Peek: true, Part: []int{1}}, {Peek: true, Partial: huge}},
		BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{1}}},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 || len(raw) > 1<<16 {
			return // APPEND refuses empty messages; big ones only slow the fuzzer
		}
		data := appendMsg(t, c, "INBOX", raw, nil)
		msgs, err := c.Fetch(imap.UIDSetNum(data.UID), opts).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("FETCH: %v (%d messages)", err, len(msgs))
		}
		if _, err := c.Fetch(imap.UIDSetNum(data.UID), &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{}}).Collect(); err != nil {
			t.Fatalf("FETCH BODY: %v", err)
		}
	})
}
