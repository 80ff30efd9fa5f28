package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dmap"
	"umbra/pgp"
)

// Correspondents' OpenPGP state — Autocrypt keys picked up, keys imported,
// Web Key Directory answers — and the signets pinned for Umbra
// correspondents (pinsync.go) travel to the user's other devices as one
// contact document per correspondent (docs/spec/sync.md §5.5, §6.4), so a
// key learnt on one device encrypts mail sent from all of them. Every
// change made through updatePeer marks the correspondent; the push loop
// writes marked correspondents up, merging on a conflict; the pull merges
// what other devices wrote into the local state.

// contactsDirtyState names the marked correspondents in the store: a JSON
// object, address → a count of changes, so that a change made while the
// correspondent is being pushed keeps the mark.
const contactsDirtyState = "contacts-dirty"

// dirtyContacts reads the marks; the caller holds peerMu.
func (b *Bridge) dirtyContacts(ctx context.Context) (map[string]int, error) {
	m := map[string]int{}
	raw, err := b.store.GetState(ctx, contactsDirtyState)
	if errors.Is(err, mailstore.ErrNotFound) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("contacts to push: %w", err)
	}
	return m, nil
}

func (b *Bridge) saveDirtyContacts(ctx context.Context, m map[string]int) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return b.store.SetState(ctx, contactsDirtyState, raw)
}

// contactChanged marks address for the push; the caller holds peerMu. It
// works on a store without a running bridge too (`umbra keys import`):
// the bridge pushes the mark on its next round.
func (b *Bridge) contactChanged(ctx context.Context, address string) error {
	m, err := b.dirtyContacts(ctx)
	if err != nil {
		return err
	}
	m[address]++
	if err := b.saveDirtyContacts(ctx, m); err != nil {
		return err
	}
	if b.pushWake != nil {
		wake(b.pushWake)
	}
	return nil
}

// recordContact is r as the contact document of address.
func recordContact(address string, r peerRecord) *syncdoc.Contact {
	return &syncdoc.Contact{Address: address, LastSeen: millis(r.LastSeen),
		Autocrypt: syncdoc.ContactKey{At: millis(r.AutocryptTimestamp), Key: r.AutocryptKey}, Mutual: r.PreferMutual,
		Imported:  syncdoc.ContactKey{At: millis(r.ImportedAt), Key: r.Imported},
		Published: syncdoc.ContactKey{At: millis(r.WKDAt), Key: r.Published}, WKDNext: millis(r.WKDNext)}
}

// contactOf is the local state of address as its contact document: its
// OpenPGP state and its pin (pinsync.go). The caller holds peerMu.
func (b *Bridge) contactOf(ctx context.Context, address string) (*syncdoc.Contact, error) {
	r, err := b.loadRecord(ctx, address)
	if err != nil {
		return nil, err
	}
	c := recordContact(address, r)
	if c.Pin, c.Verified, err = b.loadPin(ctx, address); err != nil {
		return nil, err
	}
	return c, nil
}

// contactRecord is recordContact's inverse (for the OpenPGP state).
func contactRecord(c *syncdoc.Contact) peerRecord {
	return peerRecord{LastSeen: fromMillis(c.LastSeen),
		AutocryptTimestamp: fromMillis(c.Autocrypt.At), AutocryptKey: c.Autocrypt.Key, PreferMutual: c.Mutual,
		ImportedAt: fromMillis(c.Imported.At), Imported: c.Imported.Key,
		WKDAt: fromMillis(c.Published.At), Published: c.Published.Key, WKDNext: fromMillis(c.WKDNext)}
}

// millis is t in unix milliseconds, 0 for the zero time (never learnt).
func millis(t time.Time) int64 {
	if t.IsZero() || t.UnixMilli() < 0 {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// pushContacts writes every marked correspondent's document, and unmarks
// those not changed again meanwhile.
func (b *Bridge) pushContacts(ctx context.Context) error {
	b.peerMu.Lock()
	dirty, err := b.dirtyContacts(ctx)
	b.peerMu.Unlock()
	if err != nil {
		return err
	}
	for address, n := range dirty {
		if err := b.pushContact(ctx, address); err != nil {
			return fmt.Errorf("push contact: %w", err)
		}
		b.peerMu.Lock()
		cur, err := b.dirtyContacts(ctx)
		if err == nil && cur[address] == n {
			delete(cur, address)
			err = b.saveDirtyContacts(ctx, cur)
		}
		b.peerMu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// pushContact writes address's document over the revision this device
// knows; on a conflict it merges the current one into the local state
// and tries again.
func (b *Bridge) pushContact(ctx context.Context, address string) error {
	id, err := b.sealer.ContactID(address)
	if err != nil {
		return err
	}
	revs, err := b.store.Revisions(ctx, []string{id})
	if err != nil {
		return err
	}
	rev := revs[id]
	for range maxMergeRounds {
		b.peerMu.Lock()
		c, err := b.contactOf(ctx, address)
		b.peerMu.Unlock()
		if err != nil {
			return err
		}
		plain, err := c.Marshal()
		if err != nil {
			return err
		}
		sealed, err := b.sealer.Seal(id, syncdoc.KindContact, rev+1, plain)
		if err != nil {
			return err
		}
		ch, err := b.cfg.Client.Put(ctx, id, syncdoc.KindContact, rev, sealed)
		var de *dmap.Error
		if errors.As(err, &de) && de.Code == dmap.CodeConflict {
			theirs, cur, err := b.getContact(ctx, id)
			if err != nil {
				return err
			}
			if theirs != nil {
				if err := b.mergeContact(ctx, theirs, false); err != nil {
					return err
				}
			}
			rev = cur
			continue
		}
		if err != nil {
			return b.relogin(ctx, err)
		}
		return b.store.PutDoc(ctx, mailstore.Doc{ID: id, Kind: syncdoc.KindContact, Revision: ch.Revision})
	}
	return fmt.Errorf("contact: still in conflict after %d merges", maxMergeRounds)
}

// getContact reads a contact document: nil with its revision when it is
// missing (0) or deleted.
func (b *Bridge) getContact(ctx context.Context, id string) (*syncdoc.Contact, int64, error) {
	doc, err := b.cfg.Client.Get(ctx, id)
	var de *dmap.Error
	switch {
	case errors.As(err, &de) && de.Code == dmap.CodeNotFound:
		return nil, 0, nil
	case errors.As(err, &de) && de.Code == dmap.CodeDeleted:
		return nil, de.Current, nil
	case err != nil:
		return nil, 0, err
	}
	plain, err := b.sealer.Open(doc.ID, doc.Kind, doc.Revision, doc.Data)
	if err != nil {
		return nil, 0, err
	}
	c, err := syncdoc.ParseContact(plain)
	return c, doc.Revision, err
}

// applyContact takes another device's document of a correspondent (the
// pull): merged into the local state, which is pushed back when it holds
// something the document lacks.
func (b *Bridge) applyContact(ctx context.Context, id string, c *syncdoc.Contact) error {
	want, err := b.sealer.ContactID(c.Address)
	if err != nil {
		return err
	}
	if want != id {
		return &permanentError{fmt.Errorf("contact document %s names %s, whose document is %s", id, c.Address, want)}
	}
	return b.mergeContact(ctx, c, true)
}

// mergeContact merges theirs into the local state of its address; with
// markOurs, a local state that adds to theirs is marked for the push.
func (b *Bridge) mergeContact(ctx context.Context, theirs *syncdoc.Contact, markOurs bool) error {
	b.peerMu.Lock()
	defer b.peerMu.Unlock()
	local, err := b.contactOf(ctx, theirs.Address)
	if err != nil {
		return err
	}
	merged := syncdoc.MergeContact(local, theirs)
	if err := b.saveRecord(ctx, theirs.Address, contactRecord(merged)); err != nil {
		return err
	}
	if merged.Pin.At != local.Pin.At || !bytes.Equal(merged.Pin.Key, local.Pin.Key) || merged.Verified != local.Verified {
		if err := b.savePin(ctx, theirs.Address, merged.Pin, merged.Verified); err != nil {
			return err
		}
	}
	if !markOurs {
		return nil
	}
	a, errA := merged.Marshal()
	t, errT := theirs.Marshal()
	if errA != nil || errT != nil || !bytes.Equal(a, t) {
		return b.contactChanged(ctx, theirs.Address)
	}
	return nil
}

// KnownKey is an OpenPGP key a device knows for a correspondent outside
// Umbra, and where it came from: "imported", "autocrypt" or "wkd".
type KnownKey struct {
	Source      string
	Fingerprint string // "" for a key no longer usable (expired, revoked)
	Usable      bool
}

// knownKeys returns the OpenPGP keys the store knows for address.
func (b *Bridge) knownKeys(ctx context.Context, address string) ([]KnownKey, error) {
	r, err := b.loadRecord(ctx, strings.ToLower(address))
	if err != nil {
		return nil, err
	}
	now := b.now()
	var out []KnownKey
	for _, k := range []struct {
		source string
		raw    []byte
	}{{"imported", r.Imported}, {"autocrypt", r.AutocryptKey}, {"wkd", r.Published}} {
		if k.raw == nil {
			continue
		}
		kk := KnownKey{Source: k.source}
		if pk, err := pgp.ParsePublicKey(k.raw, now); err == nil {
			kk.Fingerprint, kk.Usable = pk.Fingerprint(), pk.CanEncrypt(now)
		}
		out = append(out, kk)
	}
	return out, nil
}
