package mailstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"umbra/mailtext"
)

// Bounds on the text indexed for one message: enough to find a message by
// what a person remembers of it, while a huge message costs no more index
// than a long one.
const (
	maxIndexedBody   = 1 << 20
	maxIndexedHeader = 16 << 10
	maxIndexedField  = 4 << 10
)

// indexText is what Search and Query look in, decoded to UTF-8: the one
// analysis of a message, mailtext.Analyze, as index columns.
type indexText struct {
	subject, from, to string
	header            string // every header field, "Name: value" lines
	bcc               string // the Bcc addresses as from and to have theirs, for body_search
	body              string // the text of every part, then the attachment names
	sent              int64  // the Date field, Unix seconds; 0 when none
	sentDay           string // the Date field's calendar date in its own zone, "2006-01-02"; "" when none
	attach            bool   // the message has an attachment
	// doc is the analysis as Query confirms on it (docJSON), nil when
	// body is not the parts' text exactly (cut to the bound, or changed
	// by clean): Query analyses the message again then.
	doc []byte
}

// storedDoc is what Query's confirmation (searchquery.Match) and its hits
// read of a message's analysis, apart from the text of its parts, which
// is body_text.body: Parts holds each part's length in bytes there, the
// parts following one another, each with a line feed after it.
type storedDoc struct {
	From, To, Cc, Bcc  []mailtext.Address    `json:",omitempty"`
	Subject, MessageID string                `json:",omitempty"`
	Date               time.Time             `json:",omitzero"`
	Attachments        []mailtext.Attachment `json:",omitempty"`
	Parts              []int                 `json:",omitempty"`
}

// message rebuilds the analysis from d and body.
func (d *storedDoc) message(body string) (*mailtext.Message, error) {
	m := &mailtext.Message{From: d.From, To: d.To, Cc: d.Cc, Bcc: d.Bcc, Subject: d.Subject,
		MessageID: d.MessageID, Date: d.Date, Attachments: d.Attachments}
	for _, n := range d.Parts {
		if n < 0 || n+1 > len(body) {
			return nil, errors.New("stored analysis does not fit the indexed text")
		}
		m.Parts = append(m.Parts, mailtext.Part{Text: body[:n]})
		body = body[n+1:]
	}
	return m, nil
}

// extractText analyses a message with mailtext.Analyze for the index:
// header fields with RFC 2047 encoded words decoded, the text of every
// part with its transfer encoding and charset decoded (RFC 2045, 2046),
// HTML as the text a reader sees, and attachment names. It never fails: a
// message the analysis refuses (no header, beyond its limits) is indexed
// as its raw bytes.
func extractText(raw []byte) indexText {
	m, err := mailtext.Analyze(raw, mailtext.Limits{MaxSize: MaxMessageSize})
	if err != nil {
		return indexText{body: clean(string(raw[:min(len(raw), maxIndexedBody)]), maxIndexedBody)}
	}
	t := indexText{subject: clean(m.Subject, maxIndexedField), attach: m.HasAttachment()}
	var hdr, from, to strings.Builder
	for _, f := range m.Fields {
		if hdr.Len() >= maxIndexedHeader {
			break
		}
		hdr.WriteString(f.Name + ": " + f.Value + "\n")
		// The decoded fields themselves too, so that FROM and TO find
		// what the field says even where the addresses below read it
		// otherwise (RFC 5322 §3.4: comments, groups).
		switch {
		case strings.EqualFold(f.Name, "From"):
			from.WriteString(f.Value + "\n")
		case strings.EqualFold(f.Name, "To"), strings.EqualFold(f.Name, "Cc"):
			to.WriteString(f.Value + "\n")
		}
	}
	t.header = clean(hdr.String(), maxIndexedHeader)
	writeAddresses(&from, m.From)
	writeAddresses(&to, m.To, m.Cc)
	var bcc strings.Builder
	writeAddresses(&bcc, m.Bcc)
	t.bcc = clean(bcc.String(), maxIndexedField)
	t.from, t.to = clean(from.String(), maxIndexedField), clean(to.String(), 2*maxIndexedField)
	var body strings.Builder
	d := storedDoc{From: m.From, To: m.To, Cc: m.Cc, Bcc: m.Bcc, Subject: m.Subject, MessageID: m.MessageID,
		Date: m.Date, Attachments: m.Attachments}
	for _, p := range m.Parts {
		if body.Len() >= maxIndexedBody {
			break
		}
		body.WriteString(p.Text + "\n")
		d.Parts = append(d.Parts, len(p.Text))
	}
	for _, a := range m.Attachments {
		if a.Filename != "" {
			body.WriteString(a.Filename + "\n")
		}
	}
	t.body = clean(body.String(), maxIndexedBody)
	if len(d.Parts) == len(m.Parts) && t.body == body.String() {
		t.doc, _ = json.Marshal(d) // of strings, numbers and times: cannot fail
	}
	if !m.Date.IsZero() {
		t.sent, t.sentDay = m.Date.Unix(), m.Date.Format(time.DateOnly)
	}
	return t
}

// writeAddresses writes each address as "Name <addr>" on a line of its
// own, as searchquery.Match reads address fields.
func writeAddresses(b *strings.Builder, lists ...[]mailtext.Address) {
	for _, l := range lists {
		for _, a := range l {
			b.WriteString(a.Name + " <" + a.Addr + ">\n")
		}
	}
}

// clean makes s fit to index: valid UTF-8, no NUL, at most limit bytes
// (cut on a character boundary).
func clean(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", " ")
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "")
	}
	return s
}

// maxTrigrams bounds the trigrams one search text looks up: the index
// finds candidates, which are confirmed; more trigrams only narrow them.
const maxTrigrams = 24

// trigramMatch is an FTS5 query (https://sqlite.org/fts5.html#full_text_query_syntax)
// that every indexed text containing text, ignoring case, matches: the
// trigrams of its words of three characters or more, each a one-token
// phrase, all required, in cols (none: every column). A trigram index
// folds case as the trigram tokenizer's case_sensitive 0 does; white space
// is left out, since a query's space may stand for a line break, and so
// is NUL. "" when
// text has no such word: the index cannot narrow the search.
func trigramMatch(cols []string, text string) string {
	var terms []string
	seen := map[string]bool{}
	// NUL is indexed as a space (clean), and ends an FTS5 query string.
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return unicode.IsSpace(r) || r == 0 }) {
		for utf8.RuneCountInString(w) >= 3 && len(terms) < maxTrigrams {
			_, a := utf8.DecodeRuneInString(w)
			_, b := utf8.DecodeRuneInString(w[a:])
			_, c := utf8.DecodeRuneInString(w[a+b:])
			if tri := strings.ToLower(w[:a+b+c]); !seen[tri] {
				seen[tri] = true
				terms = append(terms, `"`+strings.ReplaceAll(tri, `"`, `""`)+`"`)
			}
			w = w[a:]
		}
	}
	if len(terms) == 0 {
		return ""
	}
	q := "(" + strings.Join(terms, " AND ") + ")"
	if len(cols) > 0 {
		q = "{" + strings.Join(cols, " ") + "} : " + q
	}
	return q
}

// indexQueueSchema is the writer connection's queue of index rows. FTS5
// flushes its pending terms to disk at every statement of a transaction
// (its savepoint method), so indexing each message by its own INSERT, among
// the other writes of an Add, costs a flush and a segment merge per
// message. Queued rows go in with one INSERT … SELECT per index at the end
// of the transaction: one flush per commit, however many messages. The
// table is TEMP: in memory (temp_store=memory), never on disk.
const indexQueueSchema = `CREATE TEMP TABLE IF NOT EXISTS index_queue (
	id INTEGER PRIMARY KEY, subject TEXT, sender TEXT, rcpt TEXT, hdr TEXT, body TEXT,
	sent INTEGER, sent_day TEXT, attach INTEGER, doc BLOB, bcc TEXT)`

// queueIndex queues the index rows of content id.
func queueIndex(c *conn, id int64, t indexText) error {
	_, err := c.exec(`INSERT INTO temp.index_queue(id, subject, sender, rcpt, hdr, body, sent, sent_day, attach, doc, bcc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, t.subject, t.from, t.to, t.header, t.body, t.sentValue(), t.dayValue(), t.attach, t.doc, t.bcc)
	if err != nil {
		return fmt.Errorf("index content %d: %w", id, err)
	}
	c.indexQueued = true
	return nil
}

// sentValue and dayValue are the stored sent and sent_day: NULL for a
// message without a readable Date field.
func (t indexText) sentValue() any {
	if t.sentDay == "" {
		return nil
	}
	return t.sent
}

func (t indexText) dayValue() any {
	if t.sentDay == "" {
		return nil
	}
	return t.sentDay
}

// flushIndex moves the queued rows into the indexes, inside the writer's
// transaction.
func flushIndex(c *conn) error {
	if !c.indexQueued {
		return nil
	}
	for _, q := range []string{
		`INSERT INTO search(rowid, subject, sender, rcpt, hdr) SELECT id, subject, sender, rcpt, hdr FROM temp.index_queue`,
		`INSERT INTO body_text(id, body, doc) SELECT id, body, doc FROM temp.index_queue`,
		`INSERT INTO content_info(id, sent, sent_day, attach) SELECT id, sent, sent_day, attach FROM temp.index_queue`,
		`INSERT INTO body_search(rowid, body) SELECT id, concat_ws(char(10), body, hdr, sender, rcpt, bcc) FROM temp.index_queue`,
		`DELETE FROM temp.index_queue`,
	} {
		if _, err := c.exec(q); err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
	c.indexQueued = false
	return nil
}
