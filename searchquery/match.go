package searchquery

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"umbra/mailtext"
)

// Doc is what Match reads of one message: its analysis and what the
// store knows of it.
type Doc struct {
	Msg    *mailtext.Message
	Folder string
	Tags   []string
}

// Match reports whether doc matches the query n, by scanning it: the
// slow, obviously correct reading of the language that the index is
// checked against. Words and phrases match case-insensitively (Unicode
// simple case folding) as substrings, with runs of white space in both
// taken as one space, so that a phrase matches across a line break.
// Text terms look in the From, To, Cc and Bcc names and addresses, the
// Subject, the text parts and the attachment names; from: and to: in the
// names and addresses of From and To ("Name <addr>"), as IMAP FROM and TO
// do. tag: matches a keyword whole, ignoring case, as IMAP keywords are
// compared; folder: a folder name whole, ignoring case only for INBOX
// (RFC 3501 §5.1).
func Match(n Node, doc Doc) bool {
	switch n := n.(type) {
	case And:
		for _, c := range n {
			if !Match(c, doc) {
				return false
			}
		}
		return true
	case Or:
		for _, c := range n {
			if Match(c, doc) {
				return true
			}
		}
		return false
	case Not:
		return !Match(n.Node, doc)
	case HasAttachment:
		return doc.Msg.HasAttachment()
	case Date:
		if doc.Msg.Date.IsZero() {
			return false
		}
		y, m, d := doc.Msg.Date.Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if n.Before {
			return day.Before(n.Day)
		}
		return !day.Before(n.Day)
	case Term:
		return matchTerm(n, doc)
	}
	return false
}

func matchTerm(t Term, doc Doc) bool {
	m := doc.Msg
	switch t.Field {
	case FieldTag:
		for _, tag := range doc.Tags {
			if strings.EqualFold(tag, t.Text) {
				return true
			}
		}
		return false
	case FieldFolder:
		if strings.EqualFold(t.Text, "INBOX") {
			return strings.EqualFold(doc.Folder, "INBOX")
		}
		return doc.Folder == t.Text
	case FieldFrom:
		return contains(t.Text, addresses(m.From)...)
	case FieldTo:
		return contains(t.Text, addresses(m.To)...)
	case FieldSubject:
		return contains(t.Text, m.Subject)
	}
	texts := []string{m.Subject}
	for _, l := range [][]mailtext.Address{m.From, m.To, m.Cc, m.Bcc} {
		texts = append(texts, addresses(l)...)
	}
	for _, p := range m.Parts {
		texts = append(texts, p.Text)
	}
	for _, a := range m.Attachments {
		texts = append(texts, a.Filename)
	}
	return contains(t.Text, texts...)
}

// addresses are the address fields as text, "Name <addr>".
func addresses(list []mailtext.Address) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Name + " <" + a.Addr + ">"
	}
	return out
}

// contains reports whether one of texts holds needle, case folded and
// white space collapsed (RFC 3501 §6.4.4: substring, case-insensitive).
func contains(needle string, texts ...string) bool {
	// Folding maps runes one by one and white space runs to one space,
	// so a text holding needle as it is holds it folded: the common case
	// costs no folding.
	for _, t := range texts {
		if strings.Contains(t, needle) {
			return true
		}
	}
	// A word of ASCII is found by comparing ASCII bytes ignoring case,
	// which allocates nothing: a text without it (most of the messages
	// Query reads without the trigram lookups, for a rare word) costs a
	// scan instead of a folded copy. Folding matches no ASCII character
	// to a byte of a longer UTF-8 sequence, and the needle holds no white
	// space for a run of it to stand for; only the Kelvin sign and the
	// long s fold with ASCII letters (TestFoldsWithASCII), and a text
	// with one is folded.
	word := asciiWord(needle)
	ks := strings.ContainsAny(needle, "kKsS")
	n := fold(needle)
	for _, t := range texts {
		if word && !(ks && (strings.Contains(t, "\u212A") || strings.Contains(t, "\u017F"))) {
			if containsASCIIFold(t, needle) {
				return true
			}
		} else if strings.Contains(fold(t), n) {
			return true
		}
	}
	return false
}

// asciiWord reports whether s is ASCII without white space.
func asciiWord(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf || asciiSpace[s[i]] {
			return false
		}
	}
	return true
}

// containsASCIIFold reports whether t holds needle, which is ASCII, with
// ASCII letters compared ignoring case.
func containsASCIIFold(t, needle string) bool {
	if needle == "" {
		return true
	}
	first, other := needle[0], needle[0]
	if 'a' <= first && first <= 'z' || 'A' <= first && first <= 'Z' {
		other ^= 'a' - 'A'
	}
	for i := 0; i+len(needle) <= len(t); i++ {
		if (t[i] == first || t[i] == other) && equalASCIIFold(t[i:i+len(needle)], needle) {
			return true
		}
	}
	return false
}

// equalASCIIFold reports whether a and b, of one length, differ at most in
// the case of ASCII letters.
func equalASCIIFold(a, b string) bool {
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// fold maps each letter to the least of its simple case folding orbit
// (so "K", "k" and the Kelvin sign are one) and runs of white space to
// one space.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r < utf8.RuneSelf {
			// ASCII, most of most mail: the least of a letter's orbit is
			// its upper case (the Kelvin sign and the long s, also in
			// the orbits of k and s, are above it).
			if asciiSpace[r] {
				space = true
				continue
			}
			if space {
				b.WriteByte(' ')
			}
			space = false
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(leastFold(r))
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// asciiSpace marks the ASCII characters unicode.IsSpace reports.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// leastFold is the least rune of r's simple case folding orbit.
func leastFold(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}
