package mailtext

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Token lengths in runes: shorter words carry little, longer ones are
// encoded data or obfuscation and become one "skip:" token, as SpamBayes
// does.
const (
	minTokenRunes = 2
	maxTokenRunes = 30
)

// urlHost finds the host of http(s) links in text.
var urlHost = regexp.MustCompile(`(?i)\bhttps?://([a-z0-9.\-]+)`)

// Tokens returns the message's token stream for classification, in
// message order, duplicates kept. Header tokens carry the field as a
// prefix ("subject:free", "from:example.com", "from:alice",
// "list-id:dev.lists.example.org"), body words none ("free"); link hosts
// read "url:host", attachments "attach:ext" and "type:media/type", and
// text parts "part:text/html". Words are lower case; runs of Han, Kana,
// Hangul or Thai letters, written without spaces, become overlapping
// pairs of letters.
func (m *Message) Tokens() []string {
	var t []string
	for _, f := range []struct {
		prefix string
		list   []Address
	}{{"from:", m.From}, {"to:", m.To}, {"cc:", m.Cc}} {
		for _, a := range f.list {
			// The local part and the domain apart, as bogofilter does:
			// a whole address, seen in few messages, would speak for the
			// one sender as loudly as the domain speaks for all of them.
			if local, domain, ok := strings.Cut(strings.ToLower(a.Addr), "@"); ok {
				t = append(t, f.prefix+local, f.prefix+domain)
			}
			if f.prefix == "from:" {
				t = words(t, "from:", a.Name)
			}
		}
	}
	t = words(t, "subject:", m.Subject)
	if m.ListID != "" {
		id := strings.ToLower(m.ListID)
		if i, j := strings.LastIndexByte(id, '<'), strings.LastIndexByte(id, '>'); i >= 0 && j > i {
			id = id[i+1 : j]
		}
		t = append(t, "list-id:"+id)
	}
	html, plain := false, false
	for _, p := range m.Parts {
		t = append(t, "part:"+p.Type)
		html = html || p.Type == "text/html"
		plain = plain || p.Type == "text/plain"
		for _, h := range urlHost.FindAllStringSubmatch(p.Text, -1) {
			t = append(t, "url:"+strings.ToLower(strings.TrimSuffix(h[1], ".")))
		}
		t = words(t, "", p.Text)
	}
	if html && !plain {
		t = append(t, "part:html-only")
	}
	for _, a := range m.Attachments {
		t = append(t, "type:"+a.Type)
		if ext := strings.ToLower(path.Ext(a.Filename)); len(ext) > 1 {
			t = append(t, "attach:"+ext[1:])
		}
	}
	return t
}

// words appends to t the words of s, each with prefix.
func words(t []string, prefix, s string) []string {
	var w strings.Builder
	runes := 0
	var prev rune // previous letter of a run of unspaced script, or 0
	emit := func() {
		if runes >= minTokenRunes && runes <= maxTokenRunes {
			t = append(t, prefix+strings.Trim(w.String(), ".-_'"))
		} else if runes > maxTokenRunes {
			r, _ := utf8.DecodeRuneInString(w.String())
			t = append(t, prefix+"skip:"+string(r)+strconv.Itoa(runes/10*10))
		}
		w.Reset()
		runes = 0
	}
	for _, r := range s {
		switch {
		case unspaced(r):
			emit()
			if prev != 0 {
				t = append(t, prefix+string(prev)+string(r))
			}
			prev = r
			continue
		case unicode.IsLetter(r) || unicode.IsNumber(r) || r == '$' || unicode.Is(unicode.Mn, r):
			w.WriteRune(unicode.ToLower(r))
			runes++
		case (r == '.' || r == '-' || r == '_' || r == '\'') && runes > 0:
			// Inside a word only: "e-mail", "v.i.a.g.r.a", "don't".
			w.WriteRune(r)
		default:
			emit()
		}
		prev = 0
	}
	emit()
	return t
}

// unspaced reports whether r belongs to a script written without spaces
// between words.
func unspaced(r rune) bool {
	return r >= 0x2E80 && (unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai))
}
