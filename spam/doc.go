// Package spam is the bridge's per-user Bayesian spam filter (issue 14).
// A Model counts, for every token, the spam and the ham messages it was
// trained on that held it; Score combines the evidence of a new
// message's tokens into a spam probability the way bogofilter does:
// Gary Robinson's f(w), which moves the probability of rarely seen tokens
// towards a prior, and Fisher's method of combining probabilities with the
// inverse chi-square function ("A Statistical Approach to the Spam
// Problem", Linux Journal 107, 2003). Tokens come from mailtext
// (Message.Tokens), so the filter reads the same decoded text the search
// index does.
//
// The bridge trains the model when the user moves mail into Junk
// (Train(tokens, true)) and out of it (Untrain(tokens, true), then
// Train(tokens, false)), and stores it encrypted and synced as the bytes of
// MarshalBinary: deterministic, versioned, and bounded when read back.
//
// Concurrency: a Model is safe for use by many goroutines; training
// excludes scoring and marshalling for its duration.
package spam
