package bridge

import (
	"context"
	"time"
)

// watchInterval is how often the bridge looks for messages another
// process (`umbra import`) added to its store.
const watchInterval = time.Second

// watchOthers tells the bridge's own listeners about what another process
// wrote to the store: the push loop then pushes the new pending messages,
// and IMAP clients with the folder open hear of them (EXISTS, IDLE), as if
// this bridge had added them. A check costs one PRAGMA when nothing
// changed.
func (b *Bridge) watchOthers(ctx context.Context) {
	w, err := b.store.NewWatch()
	if err != nil {
		b.log.Error("cannot watch the store for other writers", "err", err)
		return
	}
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := b.store.Check(w); err != nil {
			b.log.Warn("check the store for other writers", "err", err)
		} else if n > 0 {
			b.log.Debug("messages added by another process", "n", n)
		}
	}
}
