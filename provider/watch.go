package provider

import "sync"

// watchers tells DMAP long-polls and event streams that an account's
// document feed changed. It is in-process: with several nodes sharing one
// store, a client on another node learns of the change at its next poll
// (the long-poll timeout bounds the delay).
type watchers struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]bool
}

// watch subscribes to account's changes. Each change sends on the buffered
// channel without blocking, so several changes may arrive as one. stop
// must be called exactly once.
func (w *watchers) watch(account string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.subs == nil {
		w.subs = map[string]map[chan struct{}]bool{}
	}
	if w.subs[account] == nil {
		w.subs[account] = map[chan struct{}]bool{}
	}
	w.subs[account][ch] = true
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.subs[account], ch)
		if len(w.subs[account]) == 0 {
			delete(w.subs, account)
		}
		w.mu.Unlock()
	}
}

// notify wakes every subscriber of account.
func (w *watchers) notify(account string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.subs[account] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}
