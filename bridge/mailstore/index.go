package mailstore

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/mail"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decodes the charsets of text parts and encoded words
)

// Bounds on the text indexed for one message: enough to find a message by
// what a person remembers of it, while a huge message costs no more index
// than a long one.
const (
	maxIndexedBody   = 64 << 10
	maxIndexedHeader = 16 << 10
	maxIndexedField  = 4 << 10
)

// indexText is what Search looks in, decoded to UTF-8.
type indexText struct {
	subject, from, to string
	header            string // every header field, "Name: value" lines
	body              string // the text/* parts
}

// errBudget stops a Walk once the body budget is spent.
var errBudget = errors.New("index budget spent")

// extractText decodes what Search needs from a message: the header fields
// with RFC 2047 encoded words decoded, and the text of its text/* parts
// with their transfer encoding and charset decoded (RFC 2045, 2046). It
// never fails: whatever does not parse is indexed as far as it goes, and
// a message whose header does not parse at all is indexed as raw text.
func extractText(raw []byte) indexText {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil {
		// Not even a header section: the bytes are all there is.
		return indexText{body: clean(string(raw[:min(len(raw), maxIndexedBody)]), maxIndexedBody)}
	}
	_ = err // an unknown charset or encoding: e is still readable
	var t indexText
	t.subject = clean(fieldText(e.Header, "Subject"), maxIndexedField)
	t.from, t.to = addressText(e.Header)
	var hdr strings.Builder
	for f := e.Header.Fields(); f.Next() && hdr.Len() < maxIndexedHeader; {
		v, _ := f.Text() // on error, the raw value
		hdr.WriteString(f.Key() + ": " + v + "\n")
	}
	t.header = clean(hdr.String(), maxIndexedHeader)

	var body strings.Builder
	_ = e.Walk(func(_ []int, part *message.Entity, err error) error {
		if part == nil {
			return err
		}
		typ, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if typ == "" {
			typ = "text/plain" // RFC 2045 §5.2 default
		}
		if !strings.HasPrefix(typ, "text/") {
			return nil
		}
		left := maxIndexedBody - body.Len()
		b, _ := io.ReadAll(io.LimitReader(part.Body, int64(left))) // a broken part yields what it has
		s := string(b)
		if typ == "text/html" {
			s = stripTags(s)
		}
		body.WriteString(s)
		body.WriteString("\n")
		if body.Len() >= maxIndexedBody {
			return errBudget
		}
		return nil
	}) // Walk's error is a broken multipart structure: the parts before it are indexed
	t.body = clean(body.String(), maxIndexedBody)
	return t
}

// addressText is what the sender and rcpt columns index: From, and To
// with Cc, each as decoded and again as its parsed addresses written
// "Name <addr>" (RFC 5322 §3.4), which drops comments and folding and
// takes an old-style "addr (Name)" comment as the name, as Dovecot does.
func addressText(h message.Header) (from, to string) {
	field := func(key string) string {
		s := fieldText(h, key)
		if list, err := mail.ParseAddressList(stripComments(s)); err == nil {
			for _, a := range list {
				s += "\n" + a.Name + " <" + a.Address + ">"
			}
		}
		return s
	}
	return clean(field("From"), maxIndexedField), clean(field("To")+"\n"+field("Cc"), 2*maxIndexedField)
}

// stripComments removes the comments of a structured field (RFC 5322
// §3.2.2: parenthesised, nestable, with quoted-pairs), outside quoted
// strings, which net/mail cannot parse inside an address.
func stripComments(s string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case c == '"' && depth == 0:
			quoted = !quoted
			b.WriteByte(c)
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fieldText decodes a header field's encoded words; if they do not
// decode, the raw value.
func fieldText(h message.Header, key string) string {
	s, err := h.Text(key)
	if err != nil && s == "" {
		return h.Get(key)
	}
	return s
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

// stripTags reduces HTML to its text: tags dropped, entities decoded,
// whitespace runs (insignificant in HTML) made one space. Approximate (no
// parser), which is enough for finding words.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>' && in:
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(html.UnescapeString(b.String())), " ")
}

// indexQueueSchema is the writer connection's queue of index rows. FTS5
// flushes its pending terms to disk at every statement of a transaction
// (its savepoint method), so indexing each message by its own INSERT, among
// the other writes of an Add, costs a flush and a segment merge per
// message. Queued rows go in with one INSERT … SELECT per index at the end
// of the transaction: one flush per commit, however many messages. The
// table is TEMP: in memory (temp_store=memory), never on disk.
const indexQueueSchema = `CREATE TEMP TABLE IF NOT EXISTS index_queue (
	id INTEGER PRIMARY KEY, subject TEXT, sender TEXT, rcpt TEXT, hdr TEXT, body TEXT)`

// flushIndex moves the queued rows into the indexes, inside the writer's
// transaction.
func flushIndex(c *conn) error {
	if !c.indexQueued {
		return nil
	}
	for _, q := range []string{
		`INSERT INTO search(rowid, subject, sender, rcpt, hdr) SELECT id, subject, sender, rcpt, hdr FROM temp.index_queue`,
		`INSERT INTO body_text(id, body) SELECT id, body FROM temp.index_queue`,
		`DELETE FROM temp.index_queue`,
	} {
		if _, err := c.exec(q); err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
	c.indexQueued = false
	return nil
}
