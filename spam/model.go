package spam

import (
	"slices"
	"sync"
)

// MaxTokenLen bounds a token in bytes; training ignores longer ones, and a
// serialised model holding one is invalid.
const MaxTokenLen = 256

// counts are the numbers of spam and ham messages a token was trained in.
type counts struct{ spam, ham uint32 }

// Model is one user's token statistics. The zero value is not usable;
// call New.
type Model struct {
	mu     sync.RWMutex
	nSpam  uint32 // spam messages trained
	nHam   uint32 // ham messages trained
	tokens map[string]counts
}

// New returns an empty model.
func New() *Model { return &Model{tokens: map[string]counts{}} }

// Messages returns the numbers of spam and ham messages trained.
func (m *Model) Messages() (spam, ham int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return int(m.nSpam), int(m.nHam)
}

// Len returns the number of distinct tokens the model holds.
func (m *Model) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.tokens)
}

// Train counts one message with tokens as spam or as ham. A token counts
// once however often the message holds it.
func (m *Model) Train(tokens []string, spam bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if spam {
		m.nSpam = inc(m.nSpam)
	} else {
		m.nHam = inc(m.nHam)
	}
	for _, t := range unique(tokens) {
		c := m.tokens[t]
		if spam {
			c.spam = inc(c.spam)
		} else {
			c.ham = inc(c.ham)
		}
		m.tokens[t] = c
	}
}

// Untrain takes back an earlier Train(tokens, spam) of the same message:
// counts never go below zero, and tokens counted nowhere are dropped.
func (m *Model) Untrain(tokens []string, spam bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if spam {
		m.nSpam = dec(m.nSpam)
	} else {
		m.nHam = dec(m.nHam)
	}
	for _, t := range unique(tokens) {
		c, ok := m.tokens[t]
		if !ok {
			continue
		}
		if spam {
			c.spam = dec(c.spam)
		} else {
			c.ham = dec(c.ham)
		}
		if c == (counts{}) {
			delete(m.tokens, t)
		} else {
			m.tokens[t] = c
		}
	}
}

// unique returns the distinct tokens of at most MaxTokenLen bytes, sorted.
func unique(tokens []string) []string {
	u := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if t != "" && len(t) <= MaxTokenLen {
			u = append(u, t)
		}
	}
	slices.Sort(u)
	return slices.Compact(u)
}

// inc and dec saturate instead of wrapping around.
func inc(n uint32) uint32 {
	if n == ^uint32(0) {
		return n
	}
	return n + 1
}

func dec(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	return n - 1
}
