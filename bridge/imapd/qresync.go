package imapd

import (
	"fmt"
	"sort"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/imapserver"
)

// Vanished answers QRESYNC's question of what was expunged (RFC 7162
// §3.2.5.2 for SELECT, §3.2.6 for UID FETCH VANISHED) from the UIDs the
// store keeps with their expunge's mod-sequence (mailstore.Vanished):
// those of set expunged after modSeq. When modSeq is older than the store
// remembers, the answer is every UID of set up to the last one handed out
// that is not in the mailbox, as §3.2.5.2 permits; clients ignore UIDs
// they never knew (§3.2.10).
//
// An expunge committed after the SELECT's listing and before this read
// is reported twice, here and as VANISHED after the command, which a
// client handles: the UID is gone from its cache already.
func (s *session) Vanished(w *imapserver.FetchWriter, set imap.NumSet, modSeq uint64) error {
	v := s.view
	gone, err := s.srv.store.Vanished(s.srv.ctx, v.box.id, modSeq)
	if err != nil {
		return fmt.Errorf("imapd: vanished: %w", err)
	}
	if gone.UIDNext <= 1 {
		return nil // nothing was ever in the mailbox
	}
	// "*" is the last UID handed out: the client may have known it
	// although it is gone and the mailbox's largest UID is smaller.
	top := imap.UID(gone.UIDNext - 1)
	var uids imap.UIDSet
	switch {
	case set == nil:
		uids = imap.UIDSet{{Start: 1, Stop: top}}
	case imap.IsSearchRes(set):
		uids = v.searchRes
	default:
		uids = set.(imap.UIDSet)
	}
	var out imap.UIDSet
	if gone.Exact {
		for _, u := range gone.UIDs {
			if uidContains(uids, imap.UID(u), top) {
				out.AddNum(imap.UID(u))
			}
		}
	} else {
		out = absent(uids, v.uids(), top)
	}
	return w.WriteVanished(out)
}

// uids returns the UIDs of the mailbox, in increasing order.
func (v *view) uids() []uint32 {
	v.box.mu.Lock()
	defer v.box.mu.Unlock()
	out := make([]uint32, len(v.box.msgs))
	for i, m := range v.box.msgs {
		out[i] = m.uid
	}
	return out
}

// absent returns the UIDs of set, up to top, that are not in present
// (increasing), as ranges: a mailbox's gaps can be long.
func absent(set imap.UIDSet, present []uint32, top imap.UID) imap.UIDSet {
	var out imap.UIDSet
	for _, r := range set {
		lo, hi := bounds(uint32(r.Start), uint32(r.Stop), uint32(top))
		start, stop := imap.UID(lo), min(imap.UID(hi), top)
		i := sort.Search(len(present), func(i int) bool { return imap.UID(present[i]) >= start })
		for next := start; next <= stop && next != 0; {
			if i < len(present) && imap.UID(present[i]) <= stop {
				if p := imap.UID(present[i]); p > next {
					out = append(out, imap.UIDRange{Start: next, Stop: p - 1})
				}
				next = imap.UID(present[i]) + 1
				i++
				continue
			}
			out = append(out, imap.UIDRange{Start: next, Stop: stop})
			break
		}
	}
	return out
}
