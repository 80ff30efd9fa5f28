package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
)

// doomedState is the store state that keeps the folders waiting for
// reapFolders, so that a restart does not forget them: a JSON object
// from each name to the id of the mailbox it named when another device's
// deletion arrived (0: none here then). Versions before kept a JSON list
// of names (loadDoomed reads it too).
const doomedState = "sync.doomed-folders"

// applyFolders creates the folders another device made and deletes those
// it deleted, unless this device changed them since (then push merges).
// Entries this device wrote are left alone: its folders are in that state
// or a newer one. A folder that exists in the document, whoever wrote
// it, is no longer waiting to be deleted: it was created again after the
// deletion that doomed it.
func (b *Bridge) applyFolders(ctx context.Context, f *syncdoc.Folders) error {
	pending, err := b.store.MailboxesPending(ctx)
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, p := range pending {
		mine[p.Name] = true
	}
	doomed, err := b.readDoomed(ctx)
	if err != nil {
		return err
	}
	changed := false
	for _, e := range f.Entries {
		if _, ok := doomed[e.Name]; ok && !e.Deleted {
			delete(doomed, e.Name)
			changed = true
		}
		if mine[e.Name] || e.Device == b.cfg.DeviceID {
			continue
		}
		if e.Deleted {
			// A folder renamed or deleted elsewhere: its messages' meta
			// documents, later in the feed, move them out (or delete them).
			// Deleting it now would drop them for good, so it goes once
			// empty (reapFolders).
			if _, ok := doomed[e.Name]; !ok {
				if doomed[e.Name], err = b.mailboxID(ctx, e.Name); err != nil {
					return err
				}
				changed = true
			}
			continue
		}
		if err := b.ensureMailbox(ctx, e.Name); err != nil {
			return err
		}
	}
	if changed {
		return b.saveDoomed(ctx, doomed)
	}
	return nil
}

// reapFolders deletes the folders another device deleted once they are
// empty (applyFolders). A name that now names another mailbox than when
// it was doomed was created again here (an IMAP CREATE or RENAME, which
// the other devices learn of from this one's push): that folder is the
// user's, and stays.
func (b *Bridge) reapFolders(ctx context.Context) error {
	doomed, err := b.readDoomed(ctx)
	if err != nil {
		return err
	}
	reaped := false
	for name, id := range doomed {
		mb, err := b.store.Mailbox(ctx, name)
		switch {
		case errors.Is(err, mailstore.ErrNotFound):
		case err != nil:
			return err
		case mb.ID != id:
			// Created again since.
		case mb.Messages == 0:
			err := b.store.DeleteMailbox(ctx, name, mailstore.Remote)
			if err != nil && !errors.Is(err, mailstore.ErrNotFound) && !errors.Is(err, mailstore.ErrInvalid) {
				return err
			}
		default:
			continue // not empty yet
		}
		delete(doomed, name)
		reaped = true
	}
	if reaped {
		return b.saveDoomed(ctx, doomed)
	}
	return nil
}

// mailboxID is the id of the mailbox name, 0 when there is none.
func (b *Bridge) mailboxID(ctx context.Context, name string) (int64, error) {
	mb, err := b.store.MailboxRef(ctx, name)
	if errors.Is(err, mailstore.ErrNotFound) {
		return 0, nil
	}
	return mb.ID, err
}

// loadDoomed reads the names of the folders waiting for reapFolders back
// from the store into b.doomed.
func (b *Bridge) loadDoomed(ctx context.Context) error {
	doomed, err := b.readDoomed(ctx)
	if err != nil {
		return err
	}
	b.noteDoomed(doomed)
	return nil
}

// noteDoomed makes b.doomed the names of doomed, which the pull loop
// looks at to know whether to call reapFolders.
func (b *Bridge) noteDoomed(doomed map[string]int64) {
	b.doomed = make(map[string]bool, len(doomed))
	for n := range doomed {
		b.doomed[n] = true
	}
}

// readDoomed returns the folders waiting for reapFolders with the ids of
// the mailboxes they named then. Of the list of names earlier versions
// kept, each is taken to mean the mailbox the name has now.
func (b *Bridge) readDoomed(ctx context.Context) (map[string]int64, error) {
	doomed := map[string]int64{}
	raw, err := b.store.GetState(ctx, doomedState)
	if errors.Is(err, mailstore.ErrNotFound) {
		return doomed, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &doomed); err == nil {
		return doomed, nil
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, fmt.Errorf("bridge: state %s: %w", doomedState, err)
	}
	for _, n := range names {
		if doomed[n], err = b.mailboxID(ctx, n); err != nil {
			return nil, err
		}
	}
	return doomed, nil
}

// saveDoomed stores doomed and makes b.doomed its names.
func (b *Bridge) saveDoomed(ctx context.Context, doomed map[string]int64) error {
	raw, err := json.Marshal(doomed) // sorted by name
	if err != nil {
		return err
	}
	if err := b.store.SetState(ctx, doomedState, raw); err != nil {
		return err
	}
	b.noteDoomed(doomed)
	return nil
}
