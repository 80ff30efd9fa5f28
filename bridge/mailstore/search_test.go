package mailstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	msgs := []string{
		// UID 1: UTF-8 subject as RFC 2047 encoded words, quoted-printable body in Latin-1.
		"From: =?UTF-8?Q?J=C3=BCrgen?= <j@a.test>\r\nTo: bob@b.test\r\nCc: carol@c.test\r\n" +
			"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=\r\n" +
			"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"Das Wetter ist sch=F6n. ok\r\n",
		// UID 2: multipart with an HTML part and an attachment.
		"From: alice@a.test\r\nTo: dave@d.test\r\nSubject: Quarterly \"numbers\"\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/html\r\n\r\n" +
			"<p>Hello <b>World</b> &amp; friends</p>\r\n--XX\r\nContent-Type: application/octet-stream\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\nc2VjcmV0YmxvYg==\r\n--XX--\r\n",
		// UID 3: not MIME at all.
		"\x00\xff garbage without header but with a needle-xyz inside",
		// UID 4: an address with a comment as the name (RFC 5322 §3.4 obs).
		"From: bob@b.test (Bob Builder)\r\nTo: \"Doe, Jane\" <jane@d.test>\r\nSubject: x\r\n\r\nplain\r\n",
		// UID 5: a display name and a comment inside the address.
		"From: \"Eve E.\" <eve(work)@e.test>\r\nSubject: y\r\n\r\nplain\r\n",
	}
	for i, m := range msgs {
		if _, _, err := s.Add(ctx, NewMessage{Key: string(rune('a' + i)), Mailbox: Inbox, MIME: []byte(m)}, Remote); err != nil {
			t.Fatal(err)
		}
	}
	// A message in another mailbox never matches.
	if _, _, err := s.Add(ctx, NewMessage{Key: "other", Mailbox: "Sent", MIME: []byte(msgs[0])}, Remote); err != nil {
		t.Fatal(err)
	}
	inbox := mailbox(t, s, Inbox).ID
	checkSearches(t, s, inbox, []searchCase{
		{FieldSubject, "grüße", []uint32{1}},
		{FieldSubject, "MÜNCHEN", []uint32{1}},
		{FieldSubject, "aus M", []uint32{1}},
		{FieldSubject, "Wetter", nil},
		{FieldBody, "schön", []uint32{1}},
		{FieldBody, "hello world &", []uint32{2}},
		{FieldBody, "<p>", nil}, // markup is not text
		{FieldBody, "frie", []uint32{2}},
		{FieldBody, "riends", []uint32{2}}, // substrings, not words (RFC 3501 §6.4.4)
		{FieldBody, "LO WOR", []uint32{2}},
		{FieldBody, "ö", []uint32{1}},
		{FieldText, "etter is", []uint32{1}},
		{FieldBody, "secretblob", nil},
		{FieldFrom, "jürgen", []uint32{1}},
		{FieldFrom, "alice@", []uint32{2}},
		{FieldFrom, "bob builder", []uint32{4}},
		{FieldFrom, "bob@b.test", []uint32{4}},
		{FieldFrom, "eve@e.test", []uint32{5}},
		{FieldFrom, "Eve E.", []uint32{5}},
		{FieldTo, "doe, jane", []uint32{4}},
		{FieldTo, "carol", []uint32{1}},
		{FieldTo, "dave", []uint32{2}},
		{FieldText, "quarterly", []uint32{2}},
		{FieldText, `"numbers"`, []uint32{2}},
		{FieldText, "needle-xyz", []uint32{3}},
		{FieldText, "a.test", []uint32{1, 2}},
		// Short strings: scanned, still case-insensitive, also beyond ASCII.
		{FieldBody, "OK", []uint32{1}},
		{FieldSubject, "üß", []uint32{1}},
		{FieldSubject, "ÜSS", nil},
		{FieldFrom, "Ü", []uint32{1}},
		{FieldSubject, "zq", nil},
		{FieldSubject, "", []uint32{1, 2, 3, 4, 5}},
	})
	for _, bad := range []string{"\xff\xfe", "a\x00b", strings.Repeat("x", maxSearchLen+1)} {
		if _, err := s.Search(ctx, inbox, FieldText, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Search(%q): %v", bad, err)
		}
	}
	if _, err := s.Search(ctx, inbox, Field(99), "abc"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Search of an unknown field: %v", err)
	}
}

// searchCase is one Search and the UIDs it must find.
type searchCase struct {
	field Field
	text  string
	want  []uint32
}

func checkSearches(t *testing.T, s *Store, mailboxID int64, cases []searchCase) {
	t.Helper()
	for _, tc := range cases {
		got, err := s.Search(context.Background(), mailboxID, tc.field, tc.text)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Search(%d, %q) = %v, %v; want %v", tc.field, tc.text, got, err, tc.want)
		}
	}
}

func TestIndexBounded(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("abcdefgh", 3*maxIndexedBody/8)
	text := extractText([]byte("Subject: " + strings.Repeat("s", 3*maxIndexedField) + "\r\n\r\n" + body))
	if len(text.body) > maxIndexedBody || len(text.subject) > maxIndexedField || len(text.body) < maxIndexedBody/2 {
		t.Fatalf("indexed %d body bytes, %d subject bytes", len(text.body), len(text.subject))
	}
}
