package spam

import "math"

// Params tune scoring; DefaultParams are bogofilter's defaults (its
// bogofilter.cf), which its authors tuned on large corpora.
type Params struct {
	// RobX is the probability a token never seen before is given, and
	// RobS the weight of that prior against the token's counts:
	// f(w) = (RobS·RobX + n·p(w)) / (RobS + n) for a token in n messages.
	RobX, RobS float64
	// MinDev leaves out tokens whose f(w) lies within MinDev of 0.5: they
	// say little either way.
	MinDev float64
	// A score at or above SpamCutoff is spam, at or below HamCutoff ham,
	// between the two unsure.
	SpamCutoff, HamCutoff float64
}

// DefaultParams are bogofilter 1.2's defaults.
var DefaultParams = Params{RobX: 0.52, RobS: 0.0178, MinDev: 0.375, SpamCutoff: 0.99, HamCutoff: 0.45}

// Verdict is a classification.
type Verdict int

const (
	Ham Verdict = iota
	Unsure
	Spam
)

func (v Verdict) String() string {
	switch v {
	case Ham:
		return "ham"
	case Spam:
		return "spam"
	}
	return "unsure"
}

// Classify scores tokens with p and returns the verdict with the score.
func (m *Model) Classify(tokens []string, p Params) (Verdict, float64) {
	s := m.Score(tokens, p)
	switch {
	case s >= p.SpamCutoff:
		return Spam, s
	case s <= p.HamCutoff:
		return Ham, s
	}
	return Unsure, s
}

// Score returns the probability in [0, 1] that a message with tokens is
// spam; RobX when the model knows nothing about them.
func (m *Model) Score(tokens []string, p Params) float64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	// Sums of ln f(w) and ln(1-f(w)) over the tokens that count; sums of
	// logarithms, not products, so that hundreds of tokens do not
	// underflow.
	var lnF, lnNotF float64
	n := 0
	for _, t := range unique(tokens) {
		f := m.f(m.tokens[t], p)
		if math.Abs(f-0.5) <= p.MinDev {
			continue
		}
		lnF += math.Log(f)
		lnNotF += math.Log1p(-f)
		n++
	}
	if n == 0 {
		return p.RobX
	}
	// Fisher: -2·Σ ln x is chi-square distributed with 2n degrees of
	// freedom when the x are uniform, that is when the tokens say
	// nothing. H is the evidence for ham, S for spam.
	h := 1 - chi2Q(-2*lnF, 2*n)
	s := 1 - chi2Q(-2*lnNotF, 2*n)
	return (1 + s - h) / 2
}

// f is Robinson's f(w) for a token with counts c: p(w), the share of
// spam among its messages, each side relative to the messages trained
// (so that training more ham than spam does not bias it), moved towards
// RobX by how rarely the token was seen.
func (m *Model) f(c counts, p Params) float64 {
	n := float64(c.spam) + float64(c.ham)
	if n == 0 || m.nSpam == 0 || m.nHam == 0 {
		return p.RobX
	}
	bad := float64(c.spam) / float64(m.nSpam)
	good := float64(c.ham) / float64(m.nHam)
	pw := bad / (bad + good)
	f := (p.RobS*p.RobX + n*pw) / (p.RobS + n)
	// With RobS 0, f can be 0 or 1, whose logarithms Score cannot sum.
	return min(max(f, fLimit), 1-fLimit)
}

// fLimit keeps f(w) off 0 and 1.
const fLimit = 1e-9

// chi2Q is the probability that a chi-square variable with v (even)
// degrees of freedom exceeds x2: e^(-m)·Σ_{i<v/2} m^i/i!, m = x2/2. The
// terms are summed from their logarithms, so that a large m does not
// underflow e^(-m) to zero before the sum recovers it.
func chi2Q(x2 float64, v int) float64 {
	m := x2 / 2
	if m <= 0 {
		return 1
	}
	lnTerm := -m // ln(m^0/0! · e^-m)
	sum := math.Exp(lnTerm)
	lnM := math.Log(m)
	for i := 1; i < v/2; i++ {
		lnTerm += lnM - math.Log(float64(i))
		sum += math.Exp(lnTerm)
	}
	return math.Min(sum, 1)
}
