package searchquery

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"umbra/mailtext"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	raw := strings.ReplaceAll(`From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>
To: Bob <bob@example.com>
Cc: carol@example.org
Subject: Quarterly REPORT
Date: Mon, 7 Dec 2026 23:30:00 -0500
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/html; charset=utf-8

<p>The numbers are <b>attached</b>.</p><p>Straße
closed</p>
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename="Q4-Überblick.pdf"

AA==
--b--
`, "\n", "\r\n")
	msg, err := mailtext.Analyze([]byte(raw), mailtext.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	doc := Doc{Msg: msg, Folder: "Archive", Tags: []string{"Work", "$Important"}}
	for q, want := range map[string]bool{
		"":                               true,
		"report":                         true, // subject, case-insensitive
		"uarter":                         true, // inside a word
		"STRASSE":                        false,
		"straße":                         true,
		`"Straße closed"`:                true, // across a line break
		`"numbers are attached"`:         true, // across markup
		"jürgen":                         true, // a decoded name
		"JÜRGEN":                         true,
		"carol@example":                  true, // Cc is text
		"überblick":                      true, // an attachment name
		"from:müller":                    true,
		"from:bob":                       false,
		"to:bob@example.com":             true,
		"to:carol":                       false, // Cc is not To, as in IMAP
		"subject:numbers":                false,
		"has:attachment":                 true,
		"-has:attachment":                false,
		"tag:work":                       true,
		"tag:wor":                        false, // keywords match whole
		"folder:Archive":                 true,
		"folder:archive":                 false,
		"after:2026-12-07":               true, // the Date's own calendar day
		"before:2026-12-07":              false,
		"before:2026-12-08":              true,
		"after:2026-12-08":               false,
		"report -bob":                    false,
		"report (missing OR bob)":        true,
		"missing OR -tag:work OR kelvin": false,
	} {
		n, err := Parse(q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		if got := Match(n, doc); got != want {
			t.Errorf("Match(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestFold(t *testing.T) {
	t.Parallel()
	// The Kelvin sign folds with K and k; white space runs are one space.
	if fold("\u212A  x\n") != fold("k x ") {
		t.Errorf("fold(%q) = %q, fold(%q) = %q", "\u212A  x\n", fold("\u212A  x\n"), "k x ", fold("k x "))
	}
}

// TestFoldASCII: fold's ASCII fast path agrees with the general rule for
// every ASCII character.
func TestFoldASCII(t *testing.T) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		want := string(leastFold(r))
		if unicode.IsSpace(r) {
			want = " "
		}
		if got := fold(string(r)); got != want {
			t.Errorf("fold(%q) = %q, want %q", r, got, want)
		}
	}
}

// TestFoldsWithASCII: the Kelvin sign and the long s are the only runes
// beyond ASCII that fold with an ASCII character, as contains assumes.
func TestFoldsWithASCII(t *testing.T) {
	t.Parallel()
	var got []rune
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if leastFold(r) < utf8.RuneSelf {
			got = append(got, r)
		}
	}
	if want := []rune{'\u017F', '\u212A'}; !slices.Equal(got, want) {
		t.Errorf("runes folding with ASCII: %q, want %q", got, want)
	}
}

// TestContainsASCIIWord: contains finds a word of ASCII exactly where
// comparing the folded texts does, on random texts of ASCII, white space,
// letters beyond ASCII and the Kelvin sign and long s.
func TestContainsASCIIWord(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(14, 3))
	pieces := []string{"a", "A", "k", "K", "\u212A", "s", "S", "\u017F", "x", "-", " ", "\t", "\r\n", "é", "ß", "\u00a0"}
	text := func(n int) string {
		var b strings.Builder
		for range r.IntN(n) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	for range 20000 {
		needle := strings.Join(strings.Fields(text(4)), "")
		if !asciiWord(needle) {
			continue
		}
		texts := []string{text(12), text(12)}
		want := strings.Contains(fold(texts[0]), fold(needle)) || strings.Contains(fold(texts[1]), fold(needle))
		if got := contains(needle, texts...); got != want {
			t.Fatalf("contains(%q, %q) = %v, want %v", needle, texts, got, want)
		}
	}
}
