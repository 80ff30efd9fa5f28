package spam

import (
	"cmp"
	"slices"
)

// Combine returns the model whose counts are the sums of plus's counts
// less the sums of minus's, none below zero. The bridge keeps one pair per
// device — what the device trained and what it took back — so that two
// devices training at once each write only their own counts (a PN-counter
// CRDT): summing every device's pair loses no training, whatever order the
// documents arrive in.
func Combine(plus, minus []*Model) *Model {
	type sum struct{ spam, ham int64 }
	var nSpam, nHam int64
	tokens := map[string]sum{}
	add := func(ms []*Model, sign int64) {
		for _, m := range ms {
			m.mu.RLock()
			nSpam += sign * int64(m.nSpam)
			nHam += sign * int64(m.nHam)
			for t, c := range m.tokens {
				s := tokens[t]
				s.spam += sign * int64(c.spam)
				s.ham += sign * int64(c.ham)
				tokens[t] = s
			}
			m.mu.RUnlock()
		}
	}
	add(plus, 1)
	add(minus, -1)
	clamp := func(n int64) uint32 { return uint32(min(max(n, 0), int64(^uint32(0)))) }
	out := &Model{nSpam: clamp(nSpam), nHam: clamp(nHam), tokens: make(map[string]counts, len(tokens))}
	for t, s := range tokens {
		if c := (counts{spam: clamp(s.spam), ham: clamp(s.ham)}); c != (counts{}) {
			out.tokens[t] = c
		}
	}
	return out
}

// Prune bounds models to at most maxTokens distinct tokens between them,
// dropping from all of them the tokens seen in the fewest messages in
// total (ties in byte order, so that every device prunes alike). Rare
// tokens are the ones Robinson's f(w) pulls hardest towards the prior, so
// they say the least. It returns the number of tokens dropped.
func Prune(maxTokens int, models ...*Model) int {
	for _, m := range models {
		m.mu.Lock()
		defer m.mu.Unlock()
	}
	total := map[string]uint64{}
	for _, m := range models {
		for t, c := range m.tokens {
			total[t] += uint64(c.spam) + uint64(c.ham)
		}
	}
	if len(total) <= maxTokens {
		return 0
	}
	keys := make([]string, 0, len(total))
	for t := range total {
		keys = append(keys, t)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(total[a], total[b]), cmp.Compare(a, b))
	})
	drop := keys[:len(keys)-max(maxTokens, 0)]
	for _, m := range models {
		for _, t := range drop {
			delete(m.tokens, t)
		}
	}
	return len(drop)
}
