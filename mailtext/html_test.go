package mailtext

import "testing"

func TestHTMLToText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{`<p>Hello&nbsp;<b>world</b> &amp; &#x263A; &eacute;</p>`, "Hello world & ☺ é"},
		{"<div>one</div><div>two</div>\n<br><br><br>three", "one\ntwo\n\nthree"},
		{`<script>var x = "<p>hidden</p>";</script><style>p{color:red}</style>shown`, "shown"},
		{`<head><title>T</title><meta charset=utf-8></head><body>  a   b  </body>`, "a b"},
		{`see <a href="https://example.com/">the   docs</a>, <img src=x alt="logo"> here`, "see the docs, logo here"},
		{"<pre>  keep\n    indent</pre>after", "  keep\n    indent\nafter"},
		{`<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>`, "a b\nc"},
		{`<ul><li>x<li>y</ul>`, "x\ny"},
		{`unclosed <b attr="`, "unclosed"},
		{`<script>never closed`, ""},
		{`<html><head><title>T</title><style>x</style><body>no end of head`, "no end of head"},
		{`<object data="x.swf">fallback text</object>`, "fallback text"},
		{"caf\xe9", "caf\uFFFD"},
		{"", ""},
	} {
		if got := HTMLToText([]byte(c.in)); got != c.want {
			t.Errorf("HTMLToText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
