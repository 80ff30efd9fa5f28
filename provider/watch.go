package provider

import (
	"context"
	"fmt"
	"sync"

	"umbra/provider/store"
)

// watchers tells DMAP long-polls and event streams that an account's
// document feed changed. The provider notifies it of its own writes; with
// a store that several nodes share (store.ChangeFeed), watchStore feeds it
// the other nodes' writes too.
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
	wake(w.subs[account])
}

// wake sends on each channel without blocking.
func wake(subs map[chan struct{}]bool) {
	for ch := range subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// notifyAll wakes every subscriber: changes may have been missed.
func (w *watchers) notifyAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, subs := range w.subs {
		wake(subs)
	}
}

// changed is the store.ChangeFeed callback: "" means that any account
// may have changed.
func (w *watchers) changed(account string) {
	if account == "" {
		w.notifyAll()
		return
	}
	w.notify(account)
}

// watchStore subscribes the watchers to the changes other nodes make, if
// the store is shared (store.ChangeFeed), until ctx ends.
func (p *Provider) watchStore(ctx context.Context) error {
	feed, ok := p.st.(store.ChangeFeed)
	if !ok {
		return nil
	}
	wait, err := feed.WatchChanges(ctx, p.watch.changed)
	if err != nil {
		return fmt.Errorf("provider: change feed: %w", err)
	}
	p.wg.Go(wait)
	return nil
}
