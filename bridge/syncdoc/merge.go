package syncdoc

import (
	"cmp"
	"maps"
	"slices"
)

// Merging (spec §6). Two devices that change the same document between
// syncs both PUT with the same expected revision; the second gets 409,
// fetches the current document ("theirs"), merges it with its own state
// ("ours") against the state both last agreed on ("base"), and PUTs the
// result. The rules below are deterministic and symmetric in ours and
// theirs, so every device reaches the same state whichever wins the race.

// MergeFlags is the three-way merge of flag sets: theirs, plus the flags
// ours added since base, minus the flags ours removed since base. A flag
// in base survives only if both sides kept it; a flag outside base is in
// the result if either side added it. The result is sorted, without
// duplicates.
func MergeFlags(base, ours, theirs []string) []string {
	in := func(s []string) map[string]bool {
		m := make(map[string]bool, len(s))
		for _, f := range s {
			m[f] = true
		}
		return m
	}
	b, o := in(base), in(ours)
	out := in(theirs)
	for f := range o {
		if !b[f] {
			out[f] = true
		}
	}
	for f := range b {
		if !o[f] {
			delete(out, f)
		}
	}
	return slices.Sorted(maps.Keys(out))
}

// later reports whether a write stamped (u1, d1) is later than one stamped
// (u2, d2): by Updated, then by Device in byte order as a tie-break, so
// every device picks the same winner.
func later(u1 int64, d1 string, u2 int64, d2 string) bool {
	if c := cmp.Compare(u1, u2); c != 0 {
		return c > 0
	}
	return d1 > d2
}

// MergeMeta merges two concurrent versions of a message's meta document
// against their common base (nil or zero when there is none):
//
//   - Flags: MergeFlags.
//   - Mailbox: the side that moved the message since base wins; if both
//     moved it to different mailboxes, the later write by (Updated,
//     Device). An empty mailbox is no move.
//   - Deleted: sticky; true if either side is deleted, so a deletion wins
//     over a move made later elsewhere (the content may be gone already).
//   - Updated and Device: those of the later write.
//
// The key is ours's; the caller merges versions of one message only.
func MergeMeta(base, ours, theirs *Meta) *Meta {
	if base == nil {
		base = &Meta{}
	}
	oursLater := later(ours.Updated, ours.Device, theirs.Updated, theirs.Device)
	m := &Meta{
		Key:     ours.Key,
		Flags:   MergeFlags(base.Flags, ours.Flags, theirs.Flags),
		Deleted: ours.Deleted || theirs.Deleted,
	}
	// A side moved the message if it names a mailbox other than base's; an
	// empty name (a deleted message that does not say where it was) is no
	// move.
	oursMoved := ours.Mailbox != "" && ours.Mailbox != base.Mailbox
	theirsMoved := theirs.Mailbox != "" && theirs.Mailbox != base.Mailbox
	switch {
	case oursMoved && theirsMoved && ours.Mailbox != theirs.Mailbox:
		// The later move; on a full tie (one device, one millisecond) the
		// greater name, so the merge stays symmetric.
		if oursLater || ours.Updated == theirs.Updated && ours.Device == theirs.Device && ours.Mailbox > theirs.Mailbox {
			m.Mailbox = ours.Mailbox
		} else {
			m.Mailbox = theirs.Mailbox
		}
	case oursMoved:
		m.Mailbox = ours.Mailbox
	default:
		m.Mailbox = cmp.Or(theirs.Mailbox, ours.Mailbox)
	}
	if oursLater {
		m.Updated, m.Device = ours.Updated, ours.Device
	} else {
		m.Updated, m.Device = theirs.Updated, theirs.Device
	}
	return m
}

// MergeFolders merges two folders documents (nil counts as empty): for
// each name the entry of the later write by (Updated, Device) wins; on a
// full tie of differing entries the deletion wins. The result is sorted by
// name. Folders needs no base: every entry carries its own stamp and
// deletions stay as tombstones.
func MergeFolders(a, b *Folders) *Folders {
	byName := map[string]Folder{}
	for _, f := range []*Folders{a, b} {
		if f == nil {
			continue
		}
		for _, e := range f.Entries {
			cur, ok := byName[e.Name]
			if !ok || later(e.Updated, e.Device, cur.Updated, cur.Device) ||
				e.Updated == cur.Updated && e.Device == cur.Device && e.Deleted {
				byName[e.Name] = e
			}
		}
	}
	out := &Folders{Entries: slices.Collect(maps.Values(byName))}
	slices.SortFunc(out.Entries, func(x, y Folder) int { return cmp.Compare(x.Name, y.Name) })
	return out
}
