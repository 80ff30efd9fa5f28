package mailcorpus

import (
	"math/rand/v2"
	"strings"
	"testing"

	"umbra/mailtext"
)

// TestRareAndAbsentWords: about one message in RareOneIn holds a rare
// word, each such message one only, where the search index reads it
// (the decoded text); no message holds an absent word, in its bytes or
// its decoded text.
func TestRareAndAbsentWords(t *testing.T) {
	const n = 8192
	r := rand.New(rand.NewPCG(14, 2026))
	rare := map[string]int{}
	carriers := 0
	for i := range n {
		raw := Message(r, i, 300+r.IntN(2500))
		m, err := mailtext.Analyze(raw, mailtext.Limits{})
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		var text strings.Builder
		text.WriteString(strings.ToLower(string(raw)))
		for _, p := range m.Parts {
			text.WriteString("\n" + strings.ToLower(p.Text))
		}
		for _, f := range m.Fields {
			text.WriteString("\n" + strings.ToLower(f.Value))
		}
		for _, a := range m.Attachments {
			text.WriteString("\n" + strings.ToLower(a.Filename))
		}
		s := text.String()
		for _, w := range AbsentWords {
			if strings.Contains(s, w) {
				t.Fatalf("message %d holds the absent word %q", i, w)
			}
		}
		var found []string
		for _, w := range RareWords {
			if strings.Contains(s, w) {
				found = append(found, w)
			}
		}
		if len(found) > 1 {
			t.Fatalf("message %d holds rare words %q", i, found)
		}
		if len(found) == 1 {
			carriers++
			rare[found[0]]++
			if p := strings.ToLower(m.Parts[0].Text); !strings.Contains(p, found[0]) {
				t.Errorf("message %d: %q not in its first text part %q", i, found[0], p[:min(80, len(p))])
			}
		}
	}
	t.Logf("%d of %d messages hold a rare word: %v", carriers, n, rare)
	// n/RareOneIn = 32 expected: a binomial count, far from 0 and from n.
	if carriers < n/RareOneIn/3 || carriers > 3*n/RareOneIn {
		t.Errorf("%d of %d messages hold a rare word, want about %d", carriers, n, n/RareOneIn)
	}
	if len(rare) < len(RareWords)/2 {
		t.Errorf("only %d rare words used: %v", len(rare), rare)
	}
}

// TestMessageRepeats: the same seed gives the same bytes.
func TestMessageRepeats(t *testing.T) {
	a, b := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		if x, y := Message(a, i, 2000), Message(b, i, 2000); string(x) != string(y) {
			t.Fatalf("message %d differs", i)
		}
	}
}
