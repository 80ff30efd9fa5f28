package mailstore

import (
	"context"
	"slices"
	"testing"

	"umbra/mailcorpus"
	"umbra/searchquery"
)

// TestQueryRareWords: a word in few messages (mailcorpus.RareWords),
// alone or beside common ones, and a word in none take the plan of few
// candidates, and find with a limit the newest of what a scan finds; a
// common word does not take it.
func TestQueryRareWords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := corpusStore(t, 1200)
	docs := scanDocs(t, s)
	var queries []string
	for _, w := range mailcorpus.RareWords {
		queries = append(queries, w, w+" the", "year "+w, w+" -has:attachment")
	}
	queries = append(queries, mailcorpus.AbsentWords...)
	rare := 0
	for _, qs := range queries {
		q, err := searchquery.Parse(qs)
		if err != nil {
			t.Fatalf("%q: %v", qs, err)
		}
		few, err := s.fewCandidates(ctx, q)
		if err != nil || !few {
			t.Errorf("fewCandidates(%q) = %v, %v", qs, few, err)
		}
		want := scan(docs, q)
		rare += len(want)
		for _, limit := range []int{1, 3, 50} {
			if got, want := queryIDs(t, s, q, limit), want[:min(limit, len(want))]; !slices.Equal(got, want) {
				t.Errorf("Query(%q) with Limit %d: %v\nscan: %v", qs, limit, got, want)
			}
		}
	}
	if rare == 0 {
		t.Error("no rare word in the corpus")
	}
	for _, qs := range []string{"the", "report", "quarterly report", "report xylophone"} {
		q, _ := searchquery.Parse(qs)
		if few, err := s.fewCandidates(ctx, q); err != nil || few {
			t.Errorf("fewCandidates(%q) = %v, %v", qs, few, err)
		}
	}
}
