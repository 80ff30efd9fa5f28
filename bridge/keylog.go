package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"umbra/bridge/mailstore"
	"umbra/dmime"
	"umbra/keylog"
	"umbra/signet"
)

// Errors of the transparency-log checks (docs/spec/keylog.md).
var (
	// ErrNotLogged: a signet its organisation's log does not hold. Its
	// provider certified a key without publishing it, which is what a
	// provider endorsing a bogus key would do: the signet is refused.
	ErrNotLogged = errors.New("the signet is not in its provider's transparency log")
	// ErrLogFork: a checkpoint that does not extend the newest one this
	// device saw of the same log: the provider rewrote its log or shows
	// different logs to different people.
	ErrLogFork = errors.New("the transparency log does not extend what this device saw of it before")
)

// stateStore is the part of the local store that keeps small values.
type stateStore interface {
	GetState(ctx context.Context, name string) ([]byte, error)
	SetState(ctx context.Context, name string, value []byte) error
}

// logState names the state holding the newest checkpoint this device saw
// of domain's log, as signed.
func logState(domain string) string { return "keylog:" + domain }

// seen is a checkpoint this device saw, and its signed form (which it can
// show others: gossip, docs/spec/keylog.md §10).
type seen struct {
	c      keylog.Checkpoint
	signed []byte
}

// logMemory is the newest checkpoint seen of each log, kept in the local
// store (encrypted at rest) so that a restart does not forget it.
type logMemory struct {
	st stateStore // nil: memory only
	mu sync.Mutex
	m  map[string]seen
}

func (l *logMemory) newest(ctx context.Context, domain string) (seen, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.m[domain]; ok {
		return s, true, nil
	}
	if l.st == nil {
		return seen{}, false, nil
	}
	raw, err := l.st.GetState(ctx, logState(domain))
	if errors.Is(err, mailstore.ErrNotFound) {
		return seen{}, false, nil
	}
	if err != nil {
		return seen{}, false, err
	}
	// A signed note: the checkpoint's text, an empty line, signatures.
	text, _, _ := bytes.Cut(raw, []byte("\n\n"))
	c, err := keylog.ParseText(append(text, '\n'))
	if err != nil {
		return seen{}, false, fmt.Errorf("the stored checkpoint of %s: %w", domain, err)
	}
	s := seen{c: c, signed: raw}
	l.remember(domain, s)
	return s, true, nil
}

// remember keeps s in memory; the caller holds l.mu.
func (l *logMemory) remember(domain string, s seen) {
	if l.m == nil || len(l.m) >= maxCached {
		l.m = map[string]seen{}
	}
	l.m[domain] = s
}

func (l *logMemory) keep(ctx context.Context, domain string, s seen) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.m[domain]; ok && old.c.Size >= s.c.Size {
		return nil
	}
	l.remember(domain, s)
	if l.st == nil {
		return nil
	}
	return l.st.SetState(ctx, logState(domain), s.signed)
}

// openCheckpoint opens a signed checkpoint of org's log with the log key
// the organisation signet names.
func openCheckpoint(org *signet.Org, signed []byte) (seen, error) {
	c, err := keylog.Open(signed, org.Domain, org.LogKey)
	if err != nil {
		return seen{}, &permanentError{fmt.Errorf("a log checkpoint of %s: %w", org.Domain, err)}
	}
	return seen{c: c, signed: signed}, nil
}

// checkpoint fetches the newest checkpoint of org's log from s and makes
// it the newest seen, once proved to extend the one seen before.
func (d *Directory) checkpoint(ctx context.Context, s source, org *signet.Org) (keylog.Checkpoint, error) {
	signed, err := s.Log(ctx, keylog.OpCheckpoint)
	if err != nil {
		return keylog.Checkpoint{}, fmt.Errorf("the log checkpoint of %s: %w", org.Domain, err)
	}
	cp, err := openCheckpoint(org, signed)
	if err != nil {
		return keylog.Checkpoint{}, err
	}
	return cp.c, d.extend(ctx, s, org, cp)
}

// needsProof compares cp with the newest checkpoint seen of its log:
// nothing seen, or the same, needs no proof; the same size with another
// hash is a fork; else a consistency proof is needed.
func (d *Directory) needsProof(ctx context.Context, domain string, cp seen) (old seen, need bool, err error) {
	old, ok, err := d.logs.newest(ctx, domain)
	switch {
	case err != nil:
		return seen{}, false, err
	case !ok || old.c == cp.c:
		return old, false, nil
	case old.c.Size == cp.c.Size:
		return seen{}, false, &permanentError{fmt.Errorf("%w: %s shows two trees of %d records", ErrLogFork, domain, cp.c.Size)}
	}
	return old, true, nil
}

// extend proves, with s, that cp and the newest checkpoint seen of org's
// log are one history (the smaller a prefix of the larger, RFC 6962
// §2.1.2), and keeps the larger. A log seen to shrink is a fork too: a
// provider that forgot records, or one showing different logs to
// different people.
func (d *Directory) extend(ctx context.Context, s source, org *signet.Org, cp seen) error {
	old, need, err := d.needsProof(ctx, org.Domain, cp)
	if err != nil || !need {
		if err == nil {
			err = d.logs.keep(ctx, org.Domain, cp)
		}
		return err
	}
	older, newer := old.c, cp.c
	if older.Size > newer.Size {
		older, newer = newer, older
	}
	raw, err := s.Log(ctx, keylog.Query{Op: keylog.OpConsistency, A: older.Size, B: newer.Size}.String())
	if err != nil && !errors.Is(err, errLogAbsent) {
		return fmt.Errorf("the log of %s: consistency proof: %w", org.Domain, err)
	}
	var proof []tlog.Hash
	if err == nil {
		proof, err = keylog.DecodeProof(raw)
	}
	if err == nil {
		err = keylog.VerifyConsistency(older, newer, proof)
	}
	if err != nil {
		return &permanentError{fmt.Errorf("%w: %s: trees of %d and %d records: %v", ErrLogFork, org.Domain, older.Size, newer.Size, err)}
	}
	return d.logs.keep(ctx, org.Domain, cp)
}

// proveLogged checks that u is in its organisation's log, when the
// organisation names one (docs/spec/keylog.md §1): a signet that is not is
// refused (ErrNotLogged).
func (d *Directory) proveLogged(ctx context.Context, s source, org *signet.Org, u *signet.User) error {
	if org.LogKey == "" {
		return nil
	}
	c, err := d.checkpoint(ctx, s, org)
	if errors.Is(err, errNoLog) {
		return &permanentError{fmt.Errorf("%s names a transparency log but serves none", org.Domain)}
	}
	if err != nil {
		return err
	}
	raw, err := s.Log(ctx, keylog.Query{Op: keylog.OpFind, Hash: u.Fingerprint()}.String())
	if errors.Is(err, errLogAbsent) {
		return &permanentError{fmt.Errorf("%w: %s (%s)", ErrNotLogged, u.Address, u.Fingerprint())}
	}
	if err != nil {
		return fmt.Errorf("the log of %s: %w", org.Domain, err)
	}
	idx, err := keylog.DecodeIndex(raw)
	if err != nil {
		return &permanentError{fmt.Errorf("the log of %s: %w", org.Domain, err)}
	}
	if idx >= c.Size {
		// Logged after the checkpoint was fetched: ask for a newer one.
		if c, err = d.checkpoint(ctx, s, org); err != nil {
			return err
		}
	}
	raw, err = s.Log(ctx, keylog.Query{Op: keylog.OpInclusion, A: idx, B: c.Size}.String())
	var proof []tlog.Hash
	if err == nil {
		proof, err = keylog.DecodeProof(raw)
	}
	if err == nil {
		err = keylog.VerifyInclusion(c, idx, u.Bytes(), proof)
	}
	if err != nil {
		return &permanentError{fmt.Errorf("%w: %s: no valid proof: %v", ErrNotLogged, u.Address, err)}
	}
	return nil
}

// checkCarried checks the evidence a message carries for its author's
// signet u (docs/spec/keylog.md §10): an inclusion proof against a
// carried checkpoint of the author's provider's log, which must extend
// the newest this device saw of that log. Only that last step may need the
// author's domain, and only when the carried checkpoint differs from the
// newest seen. It reports false when the message carries no evidence for
// this log (proveLogged must ask).
func (d *Directory) checkCarried(ctx context.Context, org *signet.Org, u *signet.User, carried *dmime.Carried) (bool, error) {
	if carried == nil || carried.Proof == nil {
		return false, nil
	}
	var cp seen
	found := false
	for _, signed := range carried.Checkpoints {
		if c, err := openCheckpoint(org, signed); err == nil {
			cp, found = c, true
			break
		}
	}
	if !found {
		return false, nil
	}
	index, size, proof, err := keylog.DecodeIndexedProof(carried.Proof)
	if err == nil && size != cp.c.Size {
		err = fmt.Errorf("a proof in a tree of %d records, the checkpoint has %d", size, cp.c.Size)
	}
	if err == nil {
		err = keylog.VerifyInclusion(cp.c, index, u.Bytes(), proof)
	}
	if err != nil {
		return false, &permanentError{fmt.Errorf("%w: %s: the proof the message carries: %v", ErrNotLogged, u.Address, err)}
	}
	if _, need, err := d.needsProof(ctx, org.Domain, cp); err != nil || !need {
		if err == nil {
			err = d.logs.keep(ctx, org.Domain, cp)
		}
		return err == nil, err
	}
	err = d.open(ctx, org.Domain, func(s source) error { return d.extend(ctx, s, org, cp) })
	return err == nil, err
}

// Evidence is what the account's own signet carries in every message it
// seals (docs/spec/keylog.md §10): the signet, its inclusion proof in the
// provider's log with that log's checkpoint, and the newest checkpoint
// this device saw of the recipient's provider's log, which the recipient
// compares with its own view (gossip: a provider showing different logs
// to different people is caught at the first exchange).
func (d *Directory) Evidence(ctx context.Context, me *signet.User, rcptDomain string) (*dmime.Carried, error) {
	c := &dmime.Carried{Signet: me.Bytes()}
	org, _, err := d.Org(ctx, d.home)
	if err != nil {
		return nil, err
	}
	if org.LogKey != "" {
		proof, signed, err := d.ownProof(ctx, org, me)
		if err != nil {
			return nil, err
		}
		c.Proof, c.Checkpoints = proof, [][]byte{signed}
	}
	c.Chain = d.earlierOwn(ctx, me)
	if rcptDomain != d.home {
		if s, ok, err := d.logs.newest(ctx, rcptDomain); err != nil {
			return nil, err
		} else if ok && s.signed != nil {
			c.Checkpoints = append(c.Checkpoints, s.signed)
		}
	}
	return c, nil
}

// earlierOwn returns the account's signets before me, newest first, at
// most dmime.MaxCarriedChain, each linked to the next by its custody
// signature: carried in mail, they let a correspondent who pinned one of
// them follow the account's rotations without asking anyone (dmime spec
// §7.3). They are read from the provider once per signet; a failure
// carries none (the correspondent then asks for the history).
func (d *Directory) earlierOwn(ctx context.Context, me *signet.User) [][]byte {
	if me.Prev.IsZero() {
		return nil
	}
	d.mu.Lock()
	e := d.ownEarlier
	d.mu.Unlock()
	if e.fp == me.Fingerprint() {
		return e.chain
	}
	frames, err := d.homeSrc.History(ctx, me.Address, signet.Fingerprint{}, me.Fingerprint())
	if err != nil || len(frames) == 0 || !bytes.Equal(frames[len(frames)-1], me.Bytes()) {
		return nil // (a history longer than the provider answers at once ends before me)
	}
	var chain [][]byte
	next := me
	for i := len(frames) - 2; i >= 0 && len(chain) < dmime.MaxCarriedChain; i-- {
		prev, err := signet.ParseUser(frames[i])
		if err != nil || signet.VerifyChain(prev, next) != nil {
			break
		}
		chain = append(chain, frames[i])
		next = prev
	}
	d.mu.Lock()
	d.ownEarlier = ownEarlier{fp: me.Fingerprint(), chain: chain}
	d.mu.Unlock()
	return chain
}

// ownEarlier is earlierOwn's memory: the chain behind signet fp.
type ownEarlier struct {
	fp    signet.Fingerprint
	chain [][]byte
}

// ownProofTTL is how long the proof of the account's own signet is reused
// before the provider's newest checkpoint is asked for again.
const ownProofTTL = 5 * time.Minute

// ownProof returns the inclusion proof of me in its provider's log and
// the signed checkpoint it is against, from the provider (DMAP), cached.
func (d *Directory) ownProof(ctx context.Context, org *signet.Org, me *signet.User) (proof, signed []byte, err error) {
	d.mu.Lock()
	p := d.own
	d.mu.Unlock()
	if p.fp == me.Fingerprint() && d.now().Sub(p.at) < ownProofTTL {
		return p.proof, p.signed, nil
	}
	src := d.homeSrc
	if _, err := d.checkpoint(ctx, src, org); err != nil {
		return nil, nil, err
	}
	s, _, err := d.logs.newest(ctx, org.Domain)
	if err != nil {
		return nil, nil, err
	}
	raw, err := src.Log(ctx, keylog.Query{Op: keylog.OpFind, Hash: me.Fingerprint()}.String())
	if err != nil {
		return nil, nil, fmt.Errorf("find the account's signet in its provider's log: %w", err)
	}
	index, err := keylog.DecodeIndex(raw)
	if err != nil {
		return nil, nil, err
	}
	raw, err = src.Log(ctx, keylog.Query{Op: keylog.OpInclusion, A: index, B: s.c.Size}.String())
	if err != nil {
		return nil, nil, fmt.Errorf("prove the account's signet in its provider's log: %w", err)
	}
	hashes, err := keylog.DecodeProof(raw)
	if err == nil {
		err = keylog.VerifyInclusion(s.c, index, me.Bytes(), hashes)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the provider's proof of the account's own signet: %w", err)
	}
	p = ownProof{fp: me.Fingerprint(), at: d.now(), proof: keylog.EncodeIndexedProof(index, s.c.Size, hashes), signed: s.signed}
	d.mu.Lock()
	d.own = p
	d.mu.Unlock()
	return p.proof, p.signed, nil
}

// ownProof is the cached proof of the account's own signet.
type ownProof struct {
	fp            signet.Fingerprint
	at            time.Time
	proof, signed []byte
}

// Gossip checks the checkpoints a message carried of the account's own
// provider's log against this device's view of it, through the provider
// (which knows its own users anyway): a checkpoint the provider cannot
// prove consistent with its log means it showed the author another log.
// It returns the finding, or "" when there is nothing to say.
func (d *Directory) Gossip(ctx context.Context, from string, carried *dmime.Carried) (string, error) {
	if carried == nil || len(carried.Checkpoints) == 0 {
		return "", nil
	}
	org, _, err := d.Org(ctx, d.home)
	if err != nil || org.LogKey == "" {
		return "", err
	}
	src := d.homeSrc
	for _, signed := range carried.Checkpoints {
		cp, err := openCheckpoint(org, signed)
		if err != nil {
			continue // another log's, or not one at all
		}
		if _, ok, err := d.logs.newest(ctx, d.home); err != nil {
			return "", err
		} else if !ok {
			if _, err := d.checkpoint(ctx, src, org); err != nil {
				return "", err
			}
		}
		_, need, err := d.needsProof(ctx, d.home, cp)
		if err == nil && need {
			err = d.extend(ctx, src, org, cp)
		}
		if errors.Is(err, ErrLogFork) {
			return fmt.Sprintf("%s was shown a log of %s (%d records) that is not the one %s shows you: %v",
				from, d.home, cp.c.Size, d.home, err), nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", nil
}
