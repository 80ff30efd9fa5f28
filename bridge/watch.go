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
// this bridge had added them; a bridge password rotated and contacts
// changed by the CLI take effect (othersWrote). A check costs one PRAGMA
// when nothing changed.
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
		n, other, err := b.store.Check(w)
		if err != nil {
			b.log.Warn("check the store for other writers", "err", err)
			continue
		}
		if n > 0 {
			b.log.Debug("messages added by another process", "n", n)
		}
		if other {
			b.othersWrote(ctx)
		}
	}
}

// othersWrote takes what the CLI may have changed beside the running
// bridge: a rotated bridge password (the IMAP sessions of the old one
// end), contacts marked for the push (`umbra keys import`).
func (b *Bridge) othersWrote(ctx context.Context) {
	changed, err := b.loadPassword(ctx)
	if err != nil {
		b.log.Warn("bridge password: read the generation", "err", err)
	} else if changed {
		b.imap.SetPassword(b.MailPassword())
		b.log.Info("bridge password rotated; IMAP sessions of the old one ended")
	}
	wake(b.pushWake)
}
