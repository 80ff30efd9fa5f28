package mailstore

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"umbra/mailcorpus"
	"umbra/mailtext"
	"umbra/searchquery"
)

// corpusStore fills a store with n generated messages (mailcorpus) in
// three folders, some tagged, and returns it.
func corpusStore(t testing.TB, n int) *Store {
	t.Helper()
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.CreateMailbox(ctx, "Projects/2026", Local); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(14, 1))
	folders := []string{Inbox, Inbox, "Archive", "Projects/2026"}
	var b Batch
	for i := range n {
		var flags []string
		if i%3 == 0 {
			flags = append(flags, "work")
		}
		if i%7 == 0 {
			flags = append(flags, "$Important", `\Seen`)
		}
		nm := NewMessage{Key: fmt.Sprint("k", i), Mailbox: folders[i%len(folders)], Flags: flags,
			InternalDate: time.Unix(1e9+int64(i), 0), MIME: mailcorpus.Message(r, i, 300+r.IntN(2500))}
		if err := b.Add(nm, Remote); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(ctx, &b); err != nil {
		t.Fatal(err)
	}
	return s
}

// scanned is one message as the brute-force scan sees it.
type scanned struct {
	id, date, internal int64 // date 0: no Date field
	doc                searchquery.Doc
}

// scanDocs analyses every message of the store, in Query's order (by
// Date field, newest first, then those without by internal date); a
// message the analysis refuses is left out (it matches nothing).
func scanDocs(t testing.TB, s *Store) []scanned {
	t.Helper()
	ctx := context.Background()
	boxes, err := s.Mailboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var docs []scanned
	for _, b := range boxes {
		msgs, err := s.List(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			raw, err := s.Content(ctx, m.ContentID)
			if err != nil {
				t.Fatal(err)
			}
			a, err := mailtext.Analyze(raw, mailtext.Limits{})
			if err != nil {
				continue
			}
			var d int64
			if !a.Date.IsZero() {
				d = a.Date.Unix()
			}
			docs = append(docs, scanned{m.ID, d, m.InternalDate.UnixNano(), searchquery.Doc{Msg: a, Folder: b.Name, Tags: m.Tags()}})
		}
	}
	slices.SortFunc(docs, func(a, b scanned) int {
		return cmp.Or(cmp.Compare(b.date, a.date), cmp.Compare(b.internal, a.internal), cmp.Compare(b.id, a.id))
	})
	return docs
}

// scan is the brute-force answer to q: the ids of the docs it matches.
func scan(docs []scanned, q searchquery.Node) []int64 {
	var ids []int64
	for _, d := range docs {
		if searchquery.Match(q, d.doc) {
			ids = append(ids, d.id)
		}
	}
	return ids
}

// queryIDs runs Query with limit and returns the ids of its hits.
func queryIDs(t testing.TB, s *Store, q searchquery.Node, limit int) []int64 {
	t.Helper()
	hits, err := s.Query(context.Background(), q, QueryOptions{Limit: limit})
	if err != nil {
		t.Fatalf("Query(%q): %v", q.String(), err)
	}
	var ids []int64
	for _, h := range hits {
		ids = append(ids, h.ID)
	}
	return ids
}

// corpusQueries are queries with known answers on the corpus: every one
// but the last few finds something (checked), in charsets, fields,
// substrings inside words, HTML-only mail, attachment names.
var corpusQueries = []string{
	"report", "REPORT", "eport", "uarterl", `"budget report"`, `"the  of"`,
	"café", "CAFÉ", "Zürich", "привет", "ПРИВЕТ", "Москва", "отчёт", "東京", "会議", "報告", "週末",
	"€uro", "“quoted”", "naïve", "ångström", "Œdipus", "emoji🙂", "Ελλάδα",
	"from:alice", "from:Jürgen", "from:ivan@ru", "from:Петров", "to:yamada", "to:山田", "to:chloé",
	"subject:budget", "subject:Москва", "subject:東京",
	"has:attachment", "-has:attachment", "has:attachment müller", ".pdf", "-12.pdf",
	"xylophone OR zephyr", "juxtapose -quixotic", "(budget OR invoice) has:attachment",
	"tag:work", "tag:WORK", "tag:$important", "-tag:work report",
	"folder:Archive", "folder:inbox", "folder:Projects/2026 budget", "-folder:INBOX",
	"after:2020-01-12", "before:2020-01-10", "after:2020-01-05 before:2020-01-20 report",
	"ab", "a", "z", "мо",
	// Known to find nothing.
	"notaword", "tag:nosuch", "folder:Nowhere", "html", "<p>", "&amp;", "body",
}

const corpusFinds = 7 // corpusQueries ends with this many that find nothing

// TestQueryMatchesScan: Query finds exactly what a scan of every message
// with searchquery.Match finds, in the same order, on a generated corpus.
func TestQueryMatchesScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := corpusStore(t, 240)
	docs := scanDocs(t, s)
	for i, qs := range corpusQueries {
		q, err := searchquery.Parse(qs)
		if err != nil {
			t.Fatalf("%q: %v", qs, err)
		}
		got := queryIDs(t, s, q, 0)
		want := scan(docs, q)
		if !slices.Equal(got, want) {
			t.Errorf("Query(%q): %d hits %v\nscan: %d %v", qs, len(got), got, len(want), want)
		}
		// With a limit, the newest hits: the candidates of common words
		// read without the trigram lookups, of rarer ones with them.
		for _, limit := range []int{1, 20} {
			if got, want := queryIDs(t, s, q, limit), want[:min(limit, len(want))]; !slices.Equal(got, want) {
				t.Errorf("Query(%q) with Limit %d: %v\nscan: %v", qs, limit, got, want)
			}
		}
		if finds := i < len(corpusQueries)-corpusFinds; finds != (len(want) > 0) {
			t.Errorf("%q finds %d messages", qs, len(want))
		}
	}
	// Limits: within the first page of candidates, and past it (a phrase
	// of two common words: most candidates, which have both, fail).
	for _, tc := range []struct {
		query string
		limit int
	}{{"report", 5}, {`"report the"`, 40}} {
		q, _ := searchquery.Parse(tc.query)
		var want []int64
		for _, d := range docs {
			if d.doc.Folder == Inbox && len(want) < tc.limit && searchquery.Match(q, d.doc) {
				want = append(want, d.id)
			}
		}
		hits, err := s.Query(ctx, q, QueryOptions{Limit: tc.limit, Folder: "inbox"})
		var got []int64
		for _, h := range hits {
			got = append(got, h.ID)
		}
		if err != nil || len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("Query(%q) with Limit %d and Folder inbox: %v, %v; want %v", tc.query, tc.limit, got, err, want)
		}
	}
}

// TestQueryLimitPlans: with a limit, a word common among the newest
// messages and rare before them is confirmed without the trigram lookups
// until a page of candidates is mostly misses, then with them; a word
// rare throughout with them from the start. The hits are the newest, in
// order, either way.
func TestQueryLimitPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	var b Batch
	const n = 200
	for i := range n {
		body := "nothing to see"
		if i >= n-30 || i%20 == 0 {
			body = "a zanzibar crossing"
		}
		if i%25 == 0 {
			body += ", a quagga"
		}
		nm := NewMessage{Key: fmt.Sprint(i), Mailbox: Inbox, InternalDate: time.Unix(1e9+int64(i), 0), MIME: mimeMsg("m", body)}
		if err := b.Add(nm, Remote); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(ctx, &b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		limit int
		want  func(i int) bool
	}{
		{"zanzibar", 35, func(i int) bool { return i >= n-30 || i%20 == 0 }},
		{"zanzibar", 100, func(i int) bool { return i >= n-30 || i%20 == 0 }},
		{"quagga", 5, func(i int) bool { return i%25 == 0 }},
		{"ZANZIBAR crossing -quagga", 40, func(i int) bool { return (i >= n-30 || i%20 == 0) && i%25 != 0 }},
	} {
		var want []string
		for i := n - 1; i >= 0 && len(want) < tc.limit; i-- {
			if tc.want(i) {
				want = append(want, fmt.Sprint(i))
			}
		}
		q, err := searchquery.Parse(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		hits, err := s.Query(ctx, q, QueryOptions{Limit: tc.limit})
		var got []string
		for _, h := range hits {
			got = append(got, h.Key)
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Query(%q) with Limit %d: %v, %v\nwant %v", tc.query, tc.limit, got, err, want)
		}
	}
}

// TestTagCounts: keywords counted ignoring case, system flags left out.
func TestTagCounts(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	add(t, s, "a", Inbox, Remote, "Work", `\Seen`)
	add(t, s, "b", Inbox, Remote, "work", "later")
	add(t, s, "c", "Archive", Remote, `\Flagged`)
	got, err := s.TagCounts(context.Background())
	want := []TagCount{{"later", 1}, {"Work", 2}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("TagCounts = %v, %v; want %v", got, err, want)
	}
}
