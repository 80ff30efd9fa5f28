package bridge

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxSanitizedGrowth bounds sanitizeHTML's output: a tag it rewrites is
// written escaped, which may grow an attribute value up to five times
// ("&" → "&amp;"), and the note is added once.
const (
	maxSanitizedGrowth = 6
	noteSize           = 512
)

// dropWithContent are elements removed together with everything inside
// them: they run code or load another document.
var dropWithContent = map[atom.Atom]bool{
	atom.Script: true, atom.Iframe: true, atom.Object: true,
	atom.Applet: true, atom.Frameset: true, atom.Template: true,
}

// dropTag are elements whose tags go but whose text stays: forms post the
// reader's input somewhere, base changes where links go, link loads style
// sheets and meta can refresh to another page; embed and frame are void
// elements (no end tag to skip to) that load another document.
var dropTag = map[atom.Atom]bool{
	atom.Embed: true, atom.Frame: true, atom.Form: true, atom.Input: true, atom.Button: true, atom.Select: true,
	atom.Option: true, atom.Textarea: true, atom.Base: true, atom.Link: true, atom.Meta: true,
}

// resourceAttrs load something when the message is shown: from a remote
// server that learns the message was opened (a tracking pixel) unless
// the value points into the message (cid:) or is inline data.
var resourceAttrs = map[string]bool{
	"src": true, "srcset": true, "background": true, "poster": true, "lowsrc": true,
	"dynsrc": true, "data": true, "codebase": true, "manifest": true, "ping": true, "imagesrcset": true,
}

// sanitizeHTML returns src with remote resources, scripts, event handlers,
// embedded documents, forms and javascript: links neutralised, and how
// many remote resources it blocked. It reads the HTML with x/net/html's
// tokenizer, which follows the HTML5 tokenization a browser uses, so what
// it removes is what a browser would have seen as markup. Text is kept
// byte for byte (with < and > escaped, so no removal can join text into a
// new tag) and tags are written again from their parsed form, so the
// charset of the part does not matter. The output is at most
// maxSanitizedGrowth·len(src) + noteSize bytes.
func sanitizeHTML(src []byte) (out []byte, blocked int) {
	z := html.NewTokenizer(bytes.NewReader(src))
	z.SetMaxBuf(0)
	var b bytes.Buffer
	b.Grow(len(src) + noteSize)
	skip := atom.Atom(0) // inside an element dropped with its content
	depth := 0
	notePos := -1 // where the note goes: after <body>, or at the start
	inStyle := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		// Raw first: Token unescapes in the tokenizer's buffer.
		raw := bytes.Clone(z.Raw())
		tok := z.Token()
		if tt != html.TextToken {
			inStyle = false
		}
		if skip != 0 {
			switch {
			case tt == html.StartTagToken && tok.DataAtom == skip:
				depth++
			case tt == html.EndTagToken && tok.DataAtom == skip:
				if depth--; depth == 0 {
					skip = 0
				}
			}
			continue
		}
		switch tt {
		case html.TextToken:
			if inStyle {
				// A style sheet: raw text up to </style>, in which
				// character references mean nothing, so a < cannot be
				// escaped and goes.
				css, n := cleanCSS(tok.Data)
				blocked += n
				b.WriteString(strings.NewReplacer("<", "", ">", "").Replace(css))
				continue
			}
			b.Write(escapeAngles(raw))
		case html.CommentToken:
			// Dropped: Outlook's conditional comments hold markup.
		case html.DoctypeToken:
			b.WriteString(tok.String())
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			a := tok.DataAtom
			if dropWithContent[a] {
				if tt == html.StartTagToken {
					skip, depth = a, 1
				}
				continue
			}
			if dropTag[a] {
				continue
			}
			if tt == html.EndTagToken {
				b.WriteString(tok.String())
				continue
			}
			blocked += cleanAttrs(&tok)
			inStyle = a == atom.Style && tt == html.StartTagToken
			b.WriteString(tok.String())
			if a == atom.Body && notePos < 0 {
				notePos = b.Len()
			}
		}
	}
	out = b.Bytes()
	if blocked > 0 {
		note := fmt.Sprintf(`<p style="border:1px solid #c90;padding:4px">Umbra blocked %d remote image(s) or resource(s) in this message: loading them would tell the sender when and where it was read.</p>`, blocked)
		pos := max(notePos, 0)
		out = append(out[:pos:pos], append([]byte(note), out[pos:]...)...)
	}
	return out, blocked
}

// cleanAttrs removes event handlers, remote resources, script URLs and
// style that loads anything from tok, returning the resources blocked.
func cleanAttrs(tok *html.Token) (blocked int) {
	kept := tok.Attr[:0]
	for _, at := range tok.Attr {
		full := strings.ToLower(at.Key)
		key := full
		if i := strings.LastIndexByte(key, ':'); i >= 0 {
			key = key[i+1:] // xlink:href reads as href
		}
		switch {
		case strings.HasPrefix(full, "on"), strings.HasPrefix(key, "on"), key == "formaction", key == "action":
			continue
		case resourceAttrs[key]:
			if !inlineResource(at.Val) || key == "ping" {
				blocked++
				if key == "src" && tok.DataAtom == atom.Img {
					at.Key, at.Val = "src", "about:blank"
					kept = append(kept, at)
				}
				continue
			}
		case key == "href":
			if scriptURL(at.Val) {
				at.Val = "about:blank"
			} else if tok.DataAtom != atom.A && tok.DataAtom != atom.Area && !inlineResource(at.Val) {
				// An href that loads (SVG image and use, link) rather
				// than navigates.
				blocked++
				continue
			}
		case key == "style":
			css, n := cleanCSS(at.Val)
			blocked += n
			at.Val = css
		}
		kept = append(kept, at)
	}
	tok.Attr = kept
	return blocked
}

// normURL is a URL as a browser reads its scheme: without the whitespace
// and control characters it ignores, in lower case.
func normURL(v string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, v))
}

func scriptURL(v string) bool {
	u := normURL(v)
	return strings.HasPrefix(u, "javascript:") || strings.HasPrefix(u, "vbscript:") || strings.HasPrefix(u, "data:text/html")
}

// inlineResource: a part of the message itself (cid:, RFC 2392) or an
// inline image; nothing is fetched.
func inlineResource(v string) bool {
	u := normURL(v)
	return u == "" || strings.HasPrefix(u, "cid:") || strings.HasPrefix(u, "data:image/")
}

// cleanCSS neutralises CSS that fetches or runs anything: every url(...)
// becomes none, @import goes, and CSS that hides words behind escapes
// (\75 rl) or uses expression() (old Internet Explorer's script) is
// dropped whole, as is image-set(), which loads from a bare string. It
// returns the CSS and the number of urls blocked.
func cleanCSS(css string) (string, int) {
	// ASCII only, byte for byte: strings.ToLower turns invalid UTF-8 into
	// three-byte U+FFFD, and the indexes below must hold in css too.
	lower := strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, css)
	if len(lower) != len(css) {
		return "", 1 // invalid UTF-8 in a style: dropped, as escapes are
	}
	if strings.ContainsAny(css, "\\\x00") || strings.Contains(lower, "expression") || strings.Contains(lower, "@import") || strings.Contains(lower, "behavior") ||
		strings.Contains(lower, "image-set") {
		return "", 1
	}
	var b strings.Builder
	n := 0
	for {
		i := strings.Index(lower, "url(")
		if i < 0 {
			break
		}
		j := strings.IndexByte(lower[i:], ')')
		if j < 0 {
			j = len(lower) - i - 1 // unterminated: to the end
		}
		b.WriteString(css[:i])
		b.WriteString("none")
		css, lower = css[i+j+1:], lower[i+j+1:]
		n++
	}
	b.WriteString(css)
	return b.String(), n
}

// escapeAngles writes < and > of text as character references.
func escapeAngles(text []byte) []byte {
	if !bytes.ContainsAny(text, "<>") {
		return text
	}
	var b bytes.Buffer
	for _, c := range text {
		switch c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
	return b.Bytes()
}
