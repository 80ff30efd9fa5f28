package mailtext

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// blockElements start and end a line of text (HTML Living Standard §15.3,
// the elements rendered display: block, list-item or table-row).
var blockElements = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true,
	atom.Caption: true, atom.Center: true, atom.Dd: true, atom.Details: true,
	atom.Dialog: true, atom.Div: true, atom.Dl: true, atom.Dt: true, atom.Fieldset: true,
	atom.Figcaption: true, atom.Figure: true, atom.Footer: true, atom.Form: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Header: true, atom.Hr: true, atom.Li: true, atom.Main: true, atom.Nav: true,
	atom.Ol: true, atom.P: true, atom.Pre: true, atom.Section: true, atom.Summary: true,
	atom.Table: true, atom.Tr: true, atom.Ul: true,
}

// hiddenElements hold no text a reader sees; their content is dropped.
// Not head itself: mail often leaves out its end tag, which browsers
// imply at the first body content, and the text elements inside it
// (title, style, script) are dropped one by one.
var hiddenElements = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Template: true, atom.Title: true, atom.Iframe: true,
}

// HTMLToText returns the text a reader of the HTML document src sees:
// character references decoded, the content of script, style and other
// hidden elements dropped, link text and image alt text kept, block
// elements on lines of their own, white space collapsed outside pre.
// src should be UTF-8 (Analyze decodes the part's charset first); other
// bytes become U+FFFD, so the result is at most three times as long as
// src.
func HTMLToText(src []byte) string {
	z := html.NewTokenizer(bytes.NewReader(src))
	w := textWriter{b: &strings.Builder{}}
	w.b.Grow(len(src) / 2)
	hidden := 0 // depth inside hidden elements
	pre := 0    // depth inside pre
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// io.EOF, or a tokenizer error; either way the text so far.
			return w.String()
		case html.TextToken:
			if hidden > 0 {
				continue
			}
			if pre > 0 {
				w.raw(z.Text())
			} else {
				w.collapse(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			selfClosing := tt == html.SelfClosingTagToken
			switch {
			case hiddenElements[a]:
				if !selfClosing {
					hidden++
				}
			case a == atom.Img && hidden == 0 && hasAttr:
				for {
					k, v, more := z.TagAttr()
					if string(k) == "alt" && len(v) > 0 {
						w.collapse(v)
						w.space()
					}
					if !more {
						break
					}
				}
			case a == atom.Td || a == atom.Th:
				w.space()
			case a == atom.Br:
				w.newline(true)
			case blockElements[a]:
				w.newline(false)
				if a == atom.Pre && !selfClosing {
					pre++
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch {
			case hiddenElements[a]:
				if hidden > 0 {
					hidden--
				}
			case a == atom.Td || a == atom.Th:
				w.space()
			case blockElements[a]:
				w.newline(false)
				if a == atom.Pre && pre > 0 {
					pre--
				}
			}
		}
	}
}

// textWriter builds plain text: at most one space between words, at most
// one empty line, no space at the ends of lines.
type textWriter struct {
	b       *strings.Builder
	pending byte // ' ' or '\n' to write before the next text, or 0
	lines   int  // newlines pending, at most 2
}

func (w *textWriter) space() {
	if w.pending == 0 && w.b.Len() > 0 {
		w.pending = ' '
	}
}

// newline ends the line; a line break (br) after a line's end makes an
// empty line, a block's start or end does not.
func (w *textWriter) newline(lineBreak bool) {
	if w.b.Len() == 0 {
		return
	}
	w.pending = '\n'
	if w.lines == 0 || (lineBreak && w.lines < 2) {
		w.lines++
	}
}

func (w *textWriter) flush() {
	switch w.pending {
	case ' ':
		w.b.WriteByte(' ')
	case '\n':
		w.b.WriteString("\n\n"[:w.lines])
	}
	w.pending, w.lines = 0, 0
}

// collapse writes text with runs of white space made one space.
func (w *textWriter) collapse(text []byte) {
	for len(text) > 0 {
		c := text[0]
		if c < utf8.RuneSelf {
			text = text[1:]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				w.space()
				continue
			}
			w.flush()
			w.b.WriteByte(c)
			continue
		}
		r, n := utf8.DecodeRune(text)
		text = text[n:]
		if unicode.IsSpace(r) {
			w.space()
			continue
		}
		w.flush()
		w.b.WriteRune(r)
	}
}

// raw writes preformatted text as it is, but for carriage returns.
func (w *textWriter) raw(text []byte) {
	if len(text) == 0 {
		return
	}
	w.flush()
	w.b.WriteString(strings.ToValidUTF8(strings.ReplaceAll(string(text), "\r", ""), "\uFFFD"))
}

func (w *textWriter) String() string { return w.b.String() }
