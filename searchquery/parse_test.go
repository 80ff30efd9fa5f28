package searchquery

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time {
		d, err := time.Parse(dateLayout, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, c := range []struct {
		in   string
		want Node
	}{
		{"", And(nil)},
		{"umbra", Term{Text: "umbra"}},
		{`lunch "next friday"`, And{Term{Text: "lunch"}, Term{Text: "next friday", Phrase: true}}},
		{`from:alice To:bob subject:"weekly report"`, And{Term{Field: FieldFrom, Text: "alice"}, Term{Field: FieldTo, Text: "bob"}, Term{Field: FieldSubject, Text: "weekly report", Phrase: true}}},
		{"has:attachment tag:work folder:INBOX", And{HasAttachment{}, Term{Field: FieldTag, Text: "work"}, Term{Field: FieldFolder, Text: "INBOX"}}},
		{"after:2026-01-01 before:2026-02-01", And{Date{Day: day("2026-01-01")}, Date{Before: true, Day: day("2026-02-01")}}},
		{"a b OR c", Or{And{Term{Text: "a"}, Term{Text: "b"}}, Term{Text: "c"}}},
		{"a (b OR c) -d", And{Term{Text: "a"}, Or{Term{Text: "b"}, Term{Text: "c"}}, Not{Term{Text: "d"}}}},
		{"-(from:x OR from:y) e-mail 10:30 http://x.example/", And{Not{Or{Term{Field: FieldFrom, Text: "x"}, Term{Field: FieldFrom, Text: "y"}}}, Term{Text: "e-mail"}, Term{Text: "10:30"}, Term{Text: "http://x.example/"}}},
		{`"say \"hi\" \\ bye" ORANGE or`, And{Term{Text: `say "hi" \ bye`, Phrase: true}, Term{Text: "ORANGE"}, Term{Text: "or"}}},
		{"Grüße  日本", And{Term{Text: "Grüße"}, Term{Text: "日本"}}},
	} {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q) = %#v\nwant %#v", c.in, got, c.want)
		}
		if again, err := Parse(got.String()); err != nil || again.String() != got.String() {
			t.Errorf("Parse(%q).String() = %q does not parse back: %v %v", c.in, got.String(), again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, msg string
		offset  int
	}{
		{"form:alice", `unknown field "form"`, 0},
		{`a "open`, "phrase without its closing", 2},
		{"a (b", "( without its )", 2},
		{"a)", "unexpected )", 1},
		{"()", "empty ()", 0},
		{"OR a", "OR needs a term before it", 0},
		{"a OR", "OR needs a term after it", 4},
		{"a OR OR b", "OR needs a term after it", 5},
		{"a - b", "- needs a term right after it", 2},
		{"before:2026-13-01", "a date is YYYY-MM-DD", 0},
		{"after:yesterday", "a date is YYYY-MM-DD", 0},
		{"has:pdf", "only has:attachment", 0},
		{"from:", "from: needs a value", 0},
		{`""`, "empty phrase", 0},
		{strings.Repeat("(", MaxDepth+1) + "a" + strings.Repeat(")", MaxDepth+1), "nested deeper", MaxDepth},
		{strings.Repeat("a ", MaxTerms+1), "more than", 2 * MaxTerms},
		{strings.Repeat("a", MaxQueryLen+1), "longer than", MaxQueryLen},
		{"\xff", "not UTF-8", 0},
	} {
		_, err := Parse(c.in)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Msg, c.msg) || e.Offset != c.offset {
			t.Errorf("Parse(%.40q) = %v, want offset %d: %s", c.in, err, c.offset, c.msg)
		}
	}
}

// FuzzParse checks that parsing never panics and that a parsed query
// prints as a query that parses to the same tree.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`from:alice "weekly report" -tag:spam (a OR b) before:2026-01-01`,
		`has:attachment folder:"Sent Items" subject:"x \" y" OR -(c d)`,
		"--a ((b)) OR c OR -d 10:30 e-mail",
		`"\\" "" ( ) OR`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(q) {
				t.Fatalf("error %v has a bad offset for %q", err, q)
			}
			return
		}
		s := n.String()
		if len(s) > MaxQueryLen {
			// The printed form adds parentheses and spaces: a query
			// near the limit may print past it, which is not a parse
			// error of the query.
			return
		}
		n2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q: %v", q, s, err)
		}
		if !reflect.DeepEqual(normalise(n), normalise(n2)) {
			t.Fatalf("Parse(%q) = %#v\nprinted %q, parses to %#v", q, n, s, n2)
		}
	})
}

// normalise makes an empty And nil, the one difference a round trip may
// introduce.
func normalise(n Node) Node {
	if a, ok := n.(And); ok && len(a) == 0 {
		return And(nil)
	}
	return n
}
