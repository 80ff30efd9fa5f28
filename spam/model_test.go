package spam

import (
	"fmt"
	"math"
	"sync"
	"testing"
)

func TestChi2Q(t *testing.T) {
	t.Parallel()
	// Reference values of the chi-square survival function.
	for _, c := range []struct {
		x2   float64
		v    int
		want float64
	}{
		{0, 2, 1},
		{2, 2, math.Exp(-1)},
		{10, 4, 0.0404277},
		{4, 10, 0.9473470},
		{1600, 1600, 0.4952984}, // P(Poisson(800) < 800); e^-800 underflows, the log-space sum does not
	} {
		if got := chi2Q(c.x2, c.v); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("chi2Q(%v, %d) = %v, want %v", c.x2, c.v, got, c.want)
		}
	}
}

func TestTrainScore(t *testing.T) {
	t.Parallel()
	m := New()
	if s := m.Score([]string{"anything"}, DefaultParams); s != DefaultParams.RobX {
		t.Errorf("empty model scores %v, want RobX", s)
	}
	for range 10 {
		m.Train([]string{"viagra", "cheap", "common", "common"}, true)
		m.Train([]string{"meeting", "agenda", "common"}, false)
	}
	if v, s := m.Classify([]string{"cheap", "viagra", "unknown"}, DefaultParams); v != Spam {
		t.Errorf("spam tokens: %v %v", v, s)
	}
	if v, s := m.Classify([]string{"meeting", "agenda"}, DefaultParams); v != Ham {
		t.Errorf("ham tokens: %v %v", v, s)
	}
	if v, s := m.Classify([]string{"common", "unknown"}, DefaultParams); v != Unsure || s != DefaultParams.RobX {
		t.Errorf("neutral tokens: %v %v, want unsure at RobX", v, s)
	}
	if sp, h := m.Messages(); sp != 10 || h != 10 || m.Len() != 5 {
		t.Errorf("Messages = %d, %d; Len = %d", sp, h, m.Len())
	}
	// A message moved out of Junk: untrained as spam, trained as ham.
	for range 10 {
		m.Untrain([]string{"viagra", "cheap", "common"}, true)
	}
	if sp, _ := m.Messages(); sp != 0 || m.Len() != 3 {
		t.Errorf("after untraining: %d spam, %d tokens; want 0 and 3", sp, m.Len())
	}
	m.Untrain([]string{"never-seen"}, true) // stays at zero
	if sp, _ := m.Messages(); sp != 0 {
		t.Errorf("spam count %d below zero", sp)
	}
}

// TestConcurrentUse trains, scores and marshals from several goroutines;
// run with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	m := New()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				toks := []string{fmt.Sprint("t", i%17), fmt.Sprint("g", g)}
				m.Train(toks, i%2 == 0)
				m.Score(toks, DefaultParams)
				if i%50 == 0 {
					if _, err := m.MarshalBinary(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if s, h := m.Messages(); s+h != 800 {
		t.Errorf("%d messages trained, want 800", s+h)
	}
}
