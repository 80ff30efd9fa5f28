package mailtext

import (
	"slices"
	"testing"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	m, err := Analyze(crlf(`From: "Prize Dept" <win@lottery.example>
To: you@example.org
Subject: You WON $1,000,000!
List-Id: <news.example.org>
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/html

<p>Click <a href="http://Phish.Example.NET/login">here</a>: V-I-A-G-R-A and e-mail, 日本語 `+"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"+`</p> http://Phish.Example.NET/login
--b
Content-Type: application/zip
Content-Disposition: attachment; filename="invoice.ZIP"

UEsDBA==
--b--
`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := m.Tokens()
	for _, want := range []string{
		"from:win", "from:lottery.example", "from:prize", "from:dept",
		"to:you", "to:example.org",
		"subject:you", "subject:won", "subject:$1", "subject:000",
		"list-id:news.example.org",
		"part:text/html", "part:html-only", "url:phish.example.net",
		"click", "here", "v-i-a-g-r-a", "e-mail", "日本", "本語", "skip:x40",
		"type:application/zip", "attach:zip",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("tokens lack %q; have %q", want, got)
		}
	}
}
