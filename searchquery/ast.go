package searchquery

import (
	"strconv"
	"strings"
	"time"
)

// Node is a node of a parsed query: And, Or, Not, Term, HasAttachment or
// Date. Its String is a query that parses back into an equal node.
type Node interface {
	String() string
	node()
}

// And matches when every one of its nodes does.
type And []Node

// Or matches when any one of its nodes does.
type Or []Node

// Not matches when its node does not.
type Not struct{ Node Node }

// Field is what a Term looks in.
type Field string

const (
	FieldText    Field = ""        // every text of the message
	FieldFrom    Field = "from"    // the From addresses, names included
	FieldTo      Field = "to"      // the To addresses, names included
	FieldSubject Field = "subject" // the Subject
	FieldTag     Field = "tag"     // the message's keywords, whole
	FieldFolder  Field = "folder"  // the message's folder, whole
)

// Term matches Text in Field. Phrase records that Text was quoted (it may
// then hold spaces and characters a bare word cannot).
type Term struct {
	Field  Field
	Text   string
	Phrase bool
}

// HasAttachment matches messages with an attachment.
type HasAttachment struct{}

// Date matches messages dated before Day (Before), or on or after it;
// Day is a calendar date at midnight UTC, compared with the calendar date
// of the message's Date field in its own time zone, as IMAP's SENTBEFORE
// and SENTSINCE do (RFC 3501 §6.4.4). A message without a readable Date
// field matches neither.
type Date struct {
	Before bool
	Day    time.Time
}

func (And) node()           {}
func (Or) node()            {}
func (Not) node()           {}
func (Term) node()          {}
func (HasAttachment) node() {}
func (Date) node()          {}

func (a And) String() string { return join(a, " ") }
func (o Or) String() string  { return join(o, " OR ") }
func (n Not) String() string { return "-" + group(n.Node) }

func (t Term) String() string {
	prefix := ""
	if t.Field != FieldText {
		prefix = string(t.Field) + ":"
	}
	if t.Phrase {
		return prefix + quote(t.Text)
	}
	return prefix + t.Text
}

func (HasAttachment) String() string { return "has:attachment" }

func (d Date) String() string {
	if d.Before {
		return "before:" + d.Day.Format(dateLayout)
	}
	return "after:" + d.Day.Format(dateLayout)
}

const dateLayout = "2006-01-02"

// quote writes s as a phrase: in double quotes, with \ and " escaped.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// join writes nodes with sep; And and Or inside parenthesised, which keeps
// the tree's shape through a round trip.
func join(nodes []Node, sep string) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = group(n)
	}
	return strings.Join(parts, sep)
}

func group(n Node) string {
	switch n.(type) {
	case And, Or:
		return "(" + n.String() + ")"
	}
	return n.String()
}

// Error is a syntax error in a query.
type Error struct {
	Offset int // byte offset in the query
	Msg    string
}

func (e *Error) Error() string {
	return "searchquery: at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}
