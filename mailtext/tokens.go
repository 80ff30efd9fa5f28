package mailtext

import (
	"path"
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
		t = urlHosts(t, p.Text)
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

// urlHosts appends to t a "url:host" token for each http or https link
// in s.
func urlHosts(t []string, s string) []string {
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			return t
		}
		scheme := strings.ToLower(s[max(0, i-5):i])
		s = s[i+3:]
		if !strings.HasSuffix(scheme, "http") && !strings.HasSuffix(scheme, "https") {
			continue
		}
		n := 0
		for n < len(s) && (s[n] == '.' || s[n] == '-' || '0' <= s[n] && s[n] <= '9' || 'a' <= s[n]|0x20 && s[n]|0x20 <= 'z') {
			n++
		}
		if host := strings.Trim(s[:n], ".-"); host != "" {
			t = append(t, "url:"+strings.ToLower(host))
		}
	}
}

// words appends to t the words of s, each with prefix.
func words(t []string, prefix, s string) []string {
	w := make([]byte, 0, 64)
	runes := 0
	var prev rune // previous letter of a run of unspaced script, or 0
	emit := func() {
		if runes >= minTokenRunes && runes <= maxTokenRunes {
			// Punctuation is kept inside words only.
			for len(w) > 0 && isWordPunct(w[len(w)-1]) {
				w = w[:len(w)-1]
			}
			t = append(t, prefix+string(w))
		} else if runes > maxTokenRunes {
			r, _ := utf8.DecodeRune(w)
			t = append(t, prefix+"skip:"+string(r)+strconv.Itoa(runes/10*10))
		}
		w = w[:0]
		runes = 0
	}
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '$':
			w = append(w, byte(r))
			runes++
		case 'A' <= r && r <= 'Z':
			w = append(w, byte(r)+'a'-'A')
			runes++
		case unspaced(r):
			emit()
			if prev != 0 {
				t = append(t, prefix+string(prev)+string(r))
			}
			prev = r
			continue
		case unicode.IsLetter(r) || unicode.IsNumber(r) || r == '$' || unicode.Is(unicode.Mn, r):
			w = utf8.AppendRune(w, unicode.ToLower(r))
			runes++
		case r < utf8.RuneSelf && isWordPunct(byte(r)) && runes > 0:
			// Inside a word only: "e-mail", "v.i.a.g.r.a", "don't".
			w = append(w, byte(r))
		default:
			emit()
		}
		prev = 0
	}
	emit()
	return t
}

func isWordPunct(c byte) bool { return c == '.' || c == '-' || c == '_' || c == '\'' }

// unspaced reports whether r belongs to a script written without spaces
// between words.
func unspaced(r rune) bool {
	return r >= 0x2E80 && (unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai))
}
