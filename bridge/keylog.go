package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"umbra/bridge/mailstore"
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
// of domain's log.
func logState(domain string) string { return "keylog:" + domain }

// logMemory is the newest checkpoint seen of each log, kept in the local
// store (encrypted at rest) so that a restart does not forget it.
type logMemory struct {
	st stateStore // nil: memory only
	mu sync.Mutex
	m  map[string]keylog.Checkpoint
}

func (l *logMemory) newest(ctx context.Context, domain string) (keylog.Checkpoint, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.m[domain]; ok {
		return c, true, nil
	}
	if l.st == nil {
		return keylog.Checkpoint{}, false, nil
	}
	raw, err := l.st.GetState(ctx, logState(domain))
	if errors.Is(err, mailstore.ErrNotFound) {
		return keylog.Checkpoint{}, false, nil
	}
	if err != nil {
		return keylog.Checkpoint{}, false, err
	}
	c, err := keylog.ParseText(raw)
	if err != nil {
		return keylog.Checkpoint{}, false, fmt.Errorf("the stored checkpoint of %s: %w", domain, err)
	}
	l.remember(domain, c)
	return c, true, nil
}

// remember keeps c in memory; the caller holds l.mu.
func (l *logMemory) remember(domain string, c keylog.Checkpoint) {
	if l.m == nil || len(l.m) >= maxCached {
		l.m = map[string]keylog.Checkpoint{}
	}
	l.m[domain] = c
}

func (l *logMemory) keep(ctx context.Context, domain string, c keylog.Checkpoint) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.m[domain]; ok && old.Size >= c.Size {
		return nil
	}
	l.remember(domain, c)
	if l.st == nil {
		return nil
	}
	return l.st.SetState(ctx, logState(domain), c.Text())
}

// checkpoint fetches the newest checkpoint of org's log from s, opens it
// with the log key the organisation signet names, and proves that it
// extends the newest one this device saw of that log before; it is then
// the newest.
func (d *Directory) checkpoint(ctx context.Context, s source, org *signet.Org) (keylog.Checkpoint, error) {
	signed, err := s.Log(ctx, keylog.OpCheckpoint)
	if err != nil {
		return keylog.Checkpoint{}, fmt.Errorf("the log checkpoint of %s: %w", org.Domain, err)
	}
	c, err := keylog.Open(signed, org.Domain, org.LogKey)
	if err != nil {
		return keylog.Checkpoint{}, &permanentError{fmt.Errorf("the log checkpoint of %s: %w", org.Domain, err)}
	}
	old, ok, err := d.logs.newest(ctx, org.Domain)
	if err != nil {
		return keylog.Checkpoint{}, err
	}
	if ok && old != c {
		if c.Size < old.Size {
			return keylog.Checkpoint{}, &permanentError{fmt.Errorf("%w: %s shows %d records, %d before", ErrLogFork, org.Domain, c.Size, old.Size)}
		}
		raw, err := s.Log(ctx, keylog.Query{Op: keylog.OpConsistency, A: old.Size, B: c.Size}.String())
		if err != nil && !errors.Is(err, errLogAbsent) {
			return keylog.Checkpoint{}, fmt.Errorf("the log of %s: consistency proof: %w", org.Domain, err)
		}
		var proof []tlog.Hash
		if err == nil {
			proof, err = keylog.DecodeProof(raw)
		}
		if err == nil {
			err = keylog.VerifyConsistency(old, c, proof)
		}
		if err != nil {
			return keylog.Checkpoint{}, &permanentError{fmt.Errorf("%w: %s: %v", ErrLogFork, org.Domain, err)}
		}
	}
	return c, d.logs.keep(ctx, org.Domain, c)
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
