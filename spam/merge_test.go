package spam

import "testing"

// TestCombine: two devices' training sums, and one device taking back
// what the other trained (a move out of Junk there) cancels it.
func TestCombine(t *testing.T) {
	aPlus, aMinus, bPlus, bMinus := New(), New(), New(), New()
	aPlus.Train([]string{"cheap", "pills"}, true)
	bPlus.Train([]string{"cheap", "meeting"}, false)
	bPlus.Train([]string{"cheap", "pills", "winner"}, true)
	bMinus.Train([]string{"cheap", "pills", "winner"}, true) // taken back
	bPlus.Train([]string{"cheap", "pills", "winner"}, false)
	m := Combine([]*Model{aPlus, bPlus}, []*Model{aMinus, bMinus})
	if s, h := m.Messages(); s != 1 || h != 2 {
		t.Fatalf("messages %d spam %d ham, want 1 and 2", s, h)
	}
	for tok, want := range map[string]counts{"cheap": {1, 2}, "pills": {1, 1}, "winner": {0, 1}, "meeting": {0, 1}} {
		if got := m.tokens[tok]; got != want {
			t.Errorf("%s: %+v, want %+v", tok, got, want)
		}
	}
	// Below zero (a document lost, or a take-back of training never seen)
	// counts as zero, and the token goes.
	over := Combine([]*Model{New()}, []*Model{bMinus})
	if s, _ := over.Messages(); s != 0 || over.Len() != 0 {
		t.Errorf("negative sums: %d spam, %d tokens", s, over.Len())
	}
}

func TestPrune(t *testing.T) {
	p, n := New(), New()
	p.Train([]string{"common", "rare1"}, true)
	p.Train([]string{"common", "rare2"}, false)
	n.Train([]string{"common", "rare3"}, true)
	if dropped := Prune(2, p, n); dropped != 2 {
		t.Fatalf("dropped %d, want 2", dropped)
	}
	// Ties go in byte order: rare1 and rare2 go, rare3 stays.
	if _, ok := p.tokens["common"]; !ok || p.Len() != 1 || n.Len() != 2 {
		t.Errorf("after prune: %v %v", p.tokens, n.tokens)
	}
	if Prune(10, p, n) != 0 {
		t.Error("pruned below the bound")
	}
}
