package mailstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"

	"umbra/mailtext"
	"umbra/searchquery"
)

// QueryOptions narrow a Query.
type QueryOptions struct {
	Folder string // only messages in this folder; "" for every folder
	Limit  int    // at most this many hits; 0 for all
}

// Hit is one message a Query found, with the analysis it was matched on.
type Hit struct {
	Message
	Analysis *mailtext.Message
	// Date is the message's Date field, or its internal date when it has
	// no readable one.
	Date time.Time
}

// Tags are the message's keywords: its flags without the system flags
// (RFC 9051 §2.3.2), which umbra search and umbra tag call tags.
func (m Message) Tags() []string {
	var tags []string
	for _, f := range m.Flags {
		if !strings.HasPrefix(f, `\`) {
			tags = append(tags, f)
		}
	}
	return tags
}

// Query returns the messages matching q, newest first by Date field,
// then those without a readable one by internal date: the query compiles to SQL that selects candidates
// by the trigram indexes (words of three characters or more; with a
// limit, not while the newest messages mostly match) and by
// folder, keyword, date and attachment, and each candidate is confirmed
// by searchquery.Match on mailtext.Analyze's reading of its content (as
// the index stored it), so that the hits are exactly what a scan of every
// message would find. A message the analysis refuses matches nothing.
// A Hit's Analysis has the fields Match reads and the Message-ID; its
// Parts have their text only.
func (s *Store) Query(ctx context.Context, q searchquery.Node, opt QueryOptions) ([]Hit, error) {
	const head = `SELECT m.id, m.content_id, b.name, m.flags FROM message m JOIN mailbox b ON b.id = m.mailbox_id
		JOIN content_info t INDEXED BY content_info_sent ON t.id = m.content_id WHERE (`
	tail := `)`
	var folderArgs []any
	if opt.Folder != "" {
		name, err := canonicalName(opt.Folder)
		if err != nil {
			return nil, err
		}
		tail += ` AND b.name = ?`
		folderArgs = []any{name}
	}
	tail += ` ORDER BY t.sent DESC NULLS LAST, m.internal_date DESC, m.id DESC`
	// With a limit, candidates come a page at a time: a common word makes
	// every message a candidate, and the newest few usually confirm.
	// INDEXED BY: SQLite then reads candidates in Date order and stops
	// at the page's end, where it would otherwise look up and sort every
	// message the trigrams select.
	page := 0
	if opt.Limit > 0 {
		page = max(2*opt.Limit, minQueryPage)
		tail += ` LIMIT ? OFFSET ?`
	}
	where, args, _ := compile(q, true)
	plans := []queryPlan{{head + where + tail, append(args, folderArgs...), false}}
	// Even so, SQLite evaluates a trigram lookup whole before the first
	// candidate: it reads the doclist of each trigram of each word, so the
	// cost grows with the trigrams and the store (most of a three-word
	// query's time in the CPU profile, docs/benchmarks.md). With a limit,
	// the newest messages are first confirmed without the lookups, while
	// at least half of each page matches; such pages start small and
	// double, so that a rare word wastes little before the lookups take
	// over, and a word matching a third of the messages not much more.
	//
	// A word in few messages is the other way round: its lookup is cheap
	// and selects few candidates, so the pages without it only waste
	// confirmations, and reading the Date index to its end for them costs
	// more than sorting them. A lookup that stops after minQueryPage
	// contents tells such a word; its candidates are then selected
	// through the trigrams and sorted (docs/benchmarks.md, rare words).
	if opt.Limit > 0 {
		few, err := s.fewCandidates(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("mailstore: query %q: %w", q.String(), err)
		}
		if few {
			plans[0].sql = strings.Replace(plans[0].sql, " INDEXED BY content_info_sent", "", 1)
		} else if loose, largs, _ := compile(q, false); loose != where {
			plans = slices.Insert(plans, 0, queryPlan{head + loose + tail, append(largs, folderArgs...), true})
		}
	}
	var hits []Hit
	// A message moved between pages, or judged by the plan before, is
	// taken once.
	seen := map[int64]bool{}
	for _, p := range plans {
		size := page
		if p.loose {
			size = looseProbe
		}
		for offset := 0; ; {
			pageArgs := p.args
			if page > 0 {
				pageArgs = append(slices.Clone(p.args), size, offset)
			}
			cands, err := s.candidates(ctx, p.sql, pageArgs)
			if err != nil {
				return nil, fmt.Errorf("mailstore: query %q: %w", q.String(), err)
			}
			matched := 0
			for _, cd := range cands {
				if opt.Limit > 0 && len(hits) >= opt.Limit {
					return hits, nil
				}
				if seen[cd.id] {
					continue
				}
				seen[cd.id] = true
				h, ok, err := s.confirm(ctx, q, cd)
				if err != nil {
					return nil, err
				}
				if ok {
					hits, matched = append(hits, h), matched+1
				}
			}
			if page == 0 || len(cands) < size {
				return hits, nil // every candidate of this plan seen: none left for the next
			}
			if p.loose && 2*matched < len(cands) {
				break
			}
			offset, size = offset+size, min(2*size, page)
		}
	}
	return hits, nil
}

// queryPlan is an SQL selecting Query's candidates; loose: without the
// trigram lookups, a superset of the other plan's.
type queryPlan struct {
	sql   string
	args  []any
	loose bool
}

// looseProbe is the candidates of the first page read without the
// trigram lookups.
const looseProbe = 4

// fewCandidates reports whether a word of q without a field, which every
// match of q holds (q is the word or an And of it and more), is in fewer
// than minQueryPage contents by the trigram index. It looks up the
// longest such word only, the likeliest to be rare: a lookup costs about
// 0.5 ms however common the word, where one of every word of q ("quarterly
// report") costs 2 ms, which a query of common words would pay for
// nothing.
func (s *Store) fewCandidates(ctx context.Context, q searchquery.Node) (bool, error) {
	nodes := []searchquery.Node{q}
	if a, ok := q.(searchquery.And); ok {
		nodes = a
	}
	longest := ""
	for _, n := range nodes {
		if t, ok := n.(searchquery.Term); ok && t.Field == searchquery.FieldText && len(t.Text) > len(longest) {
			longest = t.Text
		}
	}
	m := trigramMatch(nil, longest)
	if m == "" {
		return false, nil
	}
	var n int64
	err := s.read(ctx, func(c *conn) (err error) {
		n, err = c.int64Row(`SELECT count(*) FROM (SELECT rowid FROM body_search WHERE body_search MATCH ? LIMIT ?)`, m, minQueryPage)
		return err
	})
	return n < minQueryPage, err
}

// confirm matches a candidate on its analysis: ok with its Hit if it
// matches q.
func (s *Store) confirm(ctx context.Context, q searchquery.Node, cd candidate) (Hit, bool, error) {
	a, err := s.analysis(ctx, cd.contentID)
	if err != nil || a == nil || !searchquery.Match(q, searchquery.Doc{Msg: a, Folder: cd.folder, Tags: cd.tags}) {
		return Hit{}, false, err
	}
	m, err := s.Get(ctx, cd.id)
	if err != nil {
		return Hit{}, false, err
	}
	h := Hit{Message: m, Analysis: a, Date: a.Date}
	if h.Date.IsZero() {
		h.Date = m.InternalDate
	}
	return h, true, nil
}

// minQueryPage is the fewest candidates Query reads at a time.
const minQueryPage = 64

// candidate is a message Query's SQL selected.
type candidate struct {
	id, contentID int64
	folder        string
	tags          []string
}

func (s *Store) candidates(ctx context.Context, sql string, args []any) ([]candidate, error) {
	var cands []candidate
	err := s.read(ctx, func(c *conn) error {
		return c.query(sql, func(st *sqlite3.Stmt) error {
			m := Message{Flags: splitFlags(st.ColumnText(3))}
			cands = append(cands, candidate{st.ColumnInt64(0), st.ColumnInt64(1), st.ColumnText(2), m.Tags()})
			return nil
		}, args...)
	})
	return cands, err
}

// analysis returns the analysis of a content as the index stored it
// (storedDoc), or as mailtext.Analyze makes it again where the index
// could not store it whole; nil for a message the analysis refuses.
func (s *Store) analysis(ctx context.Context, contentID int64) (*mailtext.Message, error) {
	var body string
	var doc []byte
	err := s.read(ctx, func(c *conn) error {
		return c.queryRow(`SELECT body, doc FROM body_text WHERE id = ?`, func(st *sqlite3.Stmt) error {
			if st.ColumnType(1) != sqlite3.NULL {
				body, doc = st.ColumnText(0), st.ColumnBlob(1, nil)
			}
			return nil
		}, contentID)
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: read the index of content %d: %w", contentID, err)
	}
	if doc != nil {
		var d storedDoc
		if err := json.Unmarshal(doc, &d); err != nil {
			return nil, fmt.Errorf("mailstore: content %d: stored analysis: %w", contentID, err)
		}
		m, err := d.message(body)
		if err != nil {
			return nil, fmt.Errorf("mailstore: content %d: %w", contentID, err)
		}
		return m, nil
	}
	raw, err := s.Content(ctx, contentID)
	if err != nil {
		return nil, err
	}
	m, err := mailtext.Analyze(raw, mailtext.Limits{MaxSize: MaxMessageSize})
	if err != nil {
		return nil, nil // matches nothing: a scan of the store could not read it either
	}
	return m, nil
}

// headerFields are the trigram index columns of the text fields of the
// query language; a word without a field looks in every column and in
// the body index.
var headerFields = map[searchquery.Field][]string{
	searchquery.FieldFrom:    {"sender"},
	searchquery.FieldTo:      {"rcpt"},
	searchquery.FieldSubject: {"subject"},
}

// compile turns n into an SQL condition on message m, mailbox b and
// content_info t that holds for every message n matches (a candidate), and
// exactly for those when exact: words look up trigrams (unless not
// trigrams: then they narrow nothing), which finds a superset; folder,
// tag, date and attachment conditions are exact. A negation of an inexact
// condition cannot narrow anything: it compiles to true.
func compile(n searchquery.Node, trigrams bool) (where string, args []any, exact bool) {
	switch n := n.(type) {
	case searchquery.And, searchquery.Or:
		nodes, op, empty := []searchquery.Node(nil), " AND ", "1"
		if o, ok := n.(searchquery.Or); ok {
			nodes, op, empty = o, " OR ", "0"
		} else {
			nodes = n.(searchquery.And)
		}
		if len(nodes) == 0 {
			return empty, nil, true
		}
		var parts, words []string
		exact = true
		for _, c := range nodes {
			// The words of an And look up their trigrams together: one
			// FTS5 query intersects them, where one query each would
			// leave SQLite to intersect their candidates row by row.
			if t, ok := c.(searchquery.Term); ok && trigrams && op == " AND " && t.Field == searchquery.FieldText {
				if q := trigramMatch(nil, t.Text); q != "" {
					words, exact = append(words, q), false
					continue
				}
			}
			w, a, e := compile(c, trigrams)
			parts, args, exact = append(parts, "("+w+")"), append(args, a...), exact && e
		}
		if len(words) > 0 {
			parts, args = append(parts, textMatch), append(args, strings.Join(words, " AND "))
		}
		return strings.Join(parts, op), args, exact
	case searchquery.Not:
		w, a, e := compile(n.Node, trigrams)
		if !e {
			return "1", nil, false
		}
		return "NOT (" + w + ")", a, true
	case searchquery.HasAttachment:
		return "t.attach", nil, true
	case searchquery.Date:
		if n.Before {
			return "coalesce(t.sent_day < ?, 0)", []any{n.Day.Format(time.DateOnly)}, true
		}
		return "coalesce(t.sent_day >= ?, 0)", []any{n.Day.Format(time.DateOnly)}, true
	case searchquery.Term:
		return compileTerm(n, trigrams)
	}
	return "1", nil, false
}

func compileTerm(t searchquery.Term, trigrams bool) (string, []any, bool) {
	switch t.Field {
	case searchquery.FieldFolder:
		if strings.EqualFold(t.Text, Inbox) {
			return "b.name = ?", []any{Inbox}, true
		}
		return "b.name = ?", []any{t.Text}, true
	case searchquery.FieldTag:
		// Keywords are atoms of ASCII (checkAtom), compared ignoring
		// case: SQLite's lower folds ASCII. A text that is no keyword
		// is left to the confirmation (Unicode folds the Kelvin sign to k).
		if checkAtom(t.Text) != nil {
			return "1", nil, false
		}
		return "instr(' ' || lower(m.flags) || ' ', ?) > 0", []any{" " + strings.ToLower(t.Text) + " "}, true
	}
	cols, header := headerFields[t.Field]
	q := trigramMatch(cols, t.Text)
	if q == "" || !trigrams {
		return "1", nil, false
	}
	if !header {
		return textMatch, []any{q}, false
	}
	return "m.content_id IN (SELECT rowid FROM search WHERE search MATCH ?)", []any{q}, false
}

// textMatch selects the candidates of words without a field: body_search
// indexes all the text they look in (schema notes).
const textMatch = "m.content_id IN (SELECT rowid FROM body_search WHERE body_search MATCH ?)"

// TagCount is a keyword and the number of messages carrying it.
type TagCount struct {
	Tag      string
	Messages int
}

// TagCounts lists the keywords (tags) of the store's messages with their
// counts, by name ignoring case (keywords compare so, RFC 9051 §2.3.2),
// each in the spelling seen first.
func (s *Store) TagCounts(ctx context.Context) ([]TagCount, error) {
	counts := map[string]*TagCount{}
	err := s.read(ctx, func(c *conn) error {
		return c.query(`SELECT flags FROM message WHERE mailbox_id IS NOT NULL AND flags != ''`, func(st *sqlite3.Stmt) error {
			for _, tag := range (Message{Flags: splitFlags(st.ColumnText(0))}).Tags() {
				k := strings.ToLower(tag)
				if counts[k] == nil {
					counts[k] = &TagCount{Tag: tag}
				}
				counts[k].Messages++
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("mailstore: count tags: %w", err)
	}
	out := make([]TagCount, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		out = append(out, *counts[k])
	}
	return out, nil
}

// Sizes are the bytes of a store's mail and search index, for benchmarks.
type Sizes struct {
	Mail  int64 // stored messages (header and body sections), each content once
	Index int64 // the trigram indexes' segments and the indexed (decoded) text they answer from
}

// Sizes sums the bytes of the rows of the mail and of the index; SQLite's
// page overhead (free space, b-tree interior pages) is in neither.
func (s *Store) Sizes(ctx context.Context) (Sizes, error) {
	var z Sizes
	err := s.read(ctx, func(c *conn) (err error) {
		if z.Mail, err = c.int64Row(`SELECT coalesce(sum(length(header) + length(body)), 0) FROM content`); err != nil {
			return err
		}
		z.Index, err = c.int64Row(`SELECT
			(SELECT coalesce(sum(length(block)), 0) FROM search_data) +
			(SELECT coalesce(sum(length(block)), 0) FROM body_search_data) +
			(SELECT coalesce(sum(length(c0) + length(c1) + length(c2) + length(c3)), 0) FROM search_content) +
			(SELECT coalesce(sum(length(body)), 0) FROM body_text)`)
		return err
	})
	if err != nil {
		return z, fmt.Errorf("mailstore: sizes: %w", err)
	}
	return z, nil
}
