package imapd

import (
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// sortAll is every SORT key, DISPLAYFROM and DISPLAYTO (RFC 5957) too.
var sortAll = []imapclient.SortCriterion{
	{Key: imapclient.SortKeyArrival}, {Key: imapclient.SortKeyCc}, {Key: imapclient.SortKeyDate, Reverse: true},
	{Key: imapclient.SortKeyFrom}, {Key: imapclient.SortKeySize}, {Key: imapclient.SortKeySubject},
	{Key: imapclient.SortKeyTo}, {Key: "DISPLAYFROM"}, {Key: "DISPLAYTO"},
}

// FuzzFetchMessage stores arbitrary bytes as a message (anyone can send
// one), fetches every item of it through a real session, and sorts and
// threads it with the messages before it: the server must answer each
// command, never drop the connection (imapserver turns a panic into a
// closed connection).
func FuzzFetchMessage(f *testing.F) {
	f.Add([]byte("Subject: =?utf-8?q?Re=3A_[list]_Fwd=3A?= [fwd: x (fwd)]\r\nFrom: \"A\" <a@b>, c@d\r\nCc: (x) <>\r\n" +
		"Date: 31 Feb 2024 25:00 +9999\r\nMessage-ID: <m@x>\r\nReferences: <m@x> <a@x> <<b@x>\r\nIn-Reply-To: garbage\r\n\r\n"))
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
		// SORT and THREAD read the header's subject, addresses, dates
		// and references: among the last few messages, so references
		// between them are followed.
		recent := &imap.SearchCriteria{UID: []imap.UIDSet{{{Start: max(data.UID, 4) - 3, Stop: data.UID}}}}
		if _, err := c.UIDSort(&imapclient.SortOptions{SearchCriteria: recent, SortCriteria: sortAll}).Wait(); err != nil {
			t.Fatalf("SORT: %v", err)
		}
		for _, alg := range []imap.ThreadAlgorithm{imap.ThreadOrderedSubject, imap.ThreadReferences} {
			if _, err := c.UIDThread(&imapclient.ThreadOptions{Algorithm: alg, SearchCriteria: recent}).Wait(); err != nil {
				t.Fatalf("THREAD %s: %v", alg, err)
			}
		}
	})
}
