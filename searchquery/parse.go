package searchquery

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of a query, against abuse: a query longer, more deeply nested
// or with more terms than any person writes is an error.
const (
	MaxQueryLen = 4096
	MaxDepth    = 64
	MaxTerms    = 256
)

// Parse parses query. The empty query (only white space) is And{}, which
// matches every message. Errors are *Error.
func Parse(query string) (Node, error) {
	if len(query) > MaxQueryLen {
		return nil, &Error{MaxQueryLen, fmt.Sprintf("query longer than %d bytes", MaxQueryLen)}
	}
	if !utf8.ValidString(query) {
		return nil, &Error{0, "query is not UTF-8"}
	}
	p := &parser{s: query}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.skipSpace(); p.pos < len(p.s) {
		return nil, &Error{p.pos, "unexpected )"}
	}
	return n, nil
}

type parser struct {
	s     string
	pos   int
	terms int
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += n
	}
}

// atOR reports whether the bare word OR is next: OR followed by the end, a
// space, "(", ")" or a quote. (OR right before ")" is the operator with
// nothing after it, an error; were it a word, it would print as an OR
// that no longer parses.)
func (p *parser) atOR() bool {
	rest := p.s[p.pos:]
	if !strings.HasPrefix(rest, "OR") {
		return false
	}
	if len(rest) == 2 {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest[2:])
	return unicode.IsSpace(r) || r == '(' || r == ')' || r == '"'
}

// or := and ("OR" and)*
func (p *parser) or(depth int) (Node, error) {
	var alts Or
	for {
		n, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
		p.skipSpace()
		if !p.atOR() {
			break
		}
		p.pos += 2
		p.skipSpace()
		if p.pos == len(p.s) || p.s[p.pos] == ')' || p.atOR() {
			return nil, &Error{p.pos, "OR needs a term after it"}
		}
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return alts, nil
}

// and := unary*, up to OR, ")" or the end.
func (p *parser) and(depth int) (Node, error) {
	var all And
	for {
		p.skipSpace()
		if p.pos == len(p.s) || p.s[p.pos] == ')' || p.atOR() {
			break
		}
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	if len(all) == 0 && p.pos < len(p.s) && p.atOR() {
		return nil, &Error{p.pos, "OR needs a term before it"}
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

// unary := "-" unary | "(" or ")" | term
func (p *parser) unary(depth int) (Node, error) {
	if depth >= MaxDepth {
		return nil, &Error{p.pos, fmt.Sprintf("nested deeper than %d", MaxDepth)}
	}
	start := p.pos
	switch p.s[p.pos] {
	case '-':
		p.pos++
		if p.pos == len(p.s) || p.s[p.pos] == ')' || isSpaceAt(p.s, p.pos) {
			return nil, &Error{start, "- needs a term right after it"}
		}
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return Not{n}, nil
	case '(':
		p.pos++
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.pos == len(p.s) || p.s[p.pos] != ')' {
			return nil, &Error{start, "( without its )"}
		}
		p.pos++
		if a, ok := n.(And); ok && len(a) == 0 {
			return nil, &Error{start, "empty ()"}
		}
		return n, nil
	}
	return p.term()
}

func isSpaceAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsSpace(r)
}

// term := [field ":"] (word | phrase)
func (p *parser) term() (Node, error) {
	start := p.pos
	p.terms++
	if p.terms > MaxTerms {
		return nil, &Error{start, fmt.Sprintf("more than %d terms", MaxTerms)}
	}
	field := FieldText
	// A field is letters before ":"; other words with ":" ("10:30") and
	// URLs ("https://...") are words.
	if i := strings.IndexByte(p.s[p.pos:], ':'); i > 0 && isLetters(p.s[p.pos:p.pos+i]) && !strings.HasPrefix(p.s[p.pos+i+1:], "//") {
		name := strings.ToLower(p.s[p.pos : p.pos+i])
		if !knownFields[name] {
			return nil, &Error{start, fmt.Sprintf("unknown field %q (known: from, to, subject, tag, folder, has, before, after); quote the word to search for it", name)}
		}
		field = Field(name)
		p.pos += i + 1
	}
	text, phrase, err := p.value()
	if err != nil {
		return nil, err
	}
	if text == "" && field == FieldText {
		return nil, &Error{start, "empty phrase"}
	}
	if text == "" {
		return nil, &Error{start, fmt.Sprintf("%s: needs a value", field)}
	}
	switch field {
	case "has":
		if strings.ToLower(text) != "attachment" {
			return nil, &Error{start, fmt.Sprintf("has:%s: only has:attachment is known", text)}
		}
		return HasAttachment{}, nil
	case "before", "after":
		day, err := time.Parse(dateLayout, text)
		if err != nil {
			return nil, &Error{start, fmt.Sprintf("%s:%s: a date is YYYY-MM-DD", field, text)}
		}
		return Date{Before: field == "before", Day: day}, nil
	}
	return Term{Field: field, Text: text, Phrase: phrase}, nil
}

var knownFields = map[string]bool{
	"from": true, "to": true, "subject": true, "tag": true, "folder": true,
	"has": true, "before": true, "after": true,
}

func isLetters(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// value reads a phrase ("...", with \" and \\ escapes) or a bare word
// (up to white space or a parenthesis).
func (p *parser) value() (text string, phrase bool, err error) {
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		start := p.pos
		var b strings.Builder
		for p.pos++; p.pos < len(p.s); p.pos++ {
			switch c := p.s[p.pos]; c {
			case '\\':
				if p.pos+1 < len(p.s) && (p.s[p.pos+1] == '"' || p.s[p.pos+1] == '\\') {
					p.pos++
					b.WriteByte(p.s[p.pos])
				} else {
					b.WriteByte(c)
				}
			case '"':
				p.pos++
				return b.String(), true, nil
			default:
				b.WriteByte(c)
			}
		}
		return "", false, &Error{start, "phrase without its closing \""}
	}
	start := p.pos
	for p.pos < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[p.pos:])
		if unicode.IsSpace(r) || r == '(' || r == ')' || r == '"' {
			break
		}
		p.pos += n
	}
	return p.s[start:p.pos], false, nil
}
