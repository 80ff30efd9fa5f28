package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
)

// doomedState is the store state that keeps the folders waiting for
// reapFolders, so that a restart does not forget them.
const doomedState = "sync.doomed-folders"

// applyFolders creates the folders another device made and deletes those
// it deleted, unless this device changed them since (then push merges).
// Entries this device wrote are left alone: its folders are in that state
// or a newer one.
func (b *Bridge) applyFolders(ctx context.Context, f *syncdoc.Folders) error {
	pending, err := b.store.MailboxesPending(ctx)
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, p := range pending {
		mine[p.Name] = true
	}
	doomed := false
	for _, e := range f.Entries {
		if mine[e.Name] || e.Device == b.cfg.DeviceID {
			continue
		}
		if e.Deleted {
			// A folder renamed or deleted elsewhere: its messages' meta
			// documents, later in the feed, move them out (or delete them).
			// Deleting it now would drop them for good, so it goes once
			// empty (reapFolders).
			if !b.doomed[e.Name] {
				b.doomed[e.Name], doomed = true, true
			}
			continue
		}
		if err := b.ensureMailbox(ctx, e.Name); err != nil {
			return err
		}
	}
	if doomed {
		return b.saveDoomed(ctx)
	}
	return nil
}

// reapFolders deletes the folders another device deleted once they are
// empty (applyFolders).
func (b *Bridge) reapFolders(ctx context.Context) error {
	reaped := false
	for name := range b.doomed {
		mb, err := b.store.Mailbox(ctx, name)
		switch {
		case errors.Is(err, mailstore.ErrNotFound):
		case err != nil:
			return err
		case mb.Messages == 0:
			err := b.store.DeleteMailbox(ctx, name, mailstore.Remote)
			if err != nil && !errors.Is(err, mailstore.ErrNotFound) && !errors.Is(err, mailstore.ErrInvalid) {
				return err
			}
		default:
			continue // not empty yet
		}
		delete(b.doomed, name)
		reaped = true
	}
	if reaped {
		return b.saveDoomed(ctx)
	}
	return nil
}

// loadDoomed reads the folders waiting for reapFolders back from the store.
func (b *Bridge) loadDoomed(ctx context.Context) error {
	b.doomed = map[string]bool{}
	raw, err := b.store.GetState(ctx, doomedState)
	if errors.Is(err, mailstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return fmt.Errorf("bridge: state %s: %w", doomedState, err)
	}
	for _, n := range names {
		b.doomed[n] = true
	}
	return nil
}

func (b *Bridge) saveDoomed(ctx context.Context) error {
	names := make([]string, 0, len(b.doomed))
	for n := range b.doomed {
		names = append(names, n)
	}
	slices.Sort(names)
	raw, err := json.Marshal(names)
	if err != nil {
		return err
	}
	return b.store.SetState(ctx, doomedState, raw)
}
