package imapserver

import (
	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/internal/imapwire"
)

// umbra: QRESYNC (RFC 7162 §3.2), which upstream's server lacked: ENABLE
// QRESYNC, the SELECT/EXAMINE parameter answered with VANISHED (EARLIER)
// and the FETCHes of what changed, the VANISHED FETCH modifier, and
// VANISHED in place of EXPUNGE once enabled (tracker.go). The session
// says which UIDs vanished (SessionQResync); the FETCHes are its Fetch
// with CHANGEDSINCE.

// SessionQResync is a session that supports QRESYNC.
type SessionQResync interface {
	Session
	// Vanished writes with w.WriteVanished the UIDs of uids (a UID set,
	// "$", or nil for every UID the mailbox had) expunged from the
	// selected mailbox after the mod-sequence modSeq (RFC 7162 §3.2.5.2,
	// §3.2.6). It may name UIDs the client never knew of (§3.2.10).
	Vanished(w *FetchWriter, uids imap.NumSet, modSeq uint64) error
}

// QResyncEnabled reports whether the client enabled QRESYNC (RFC 7162
// §3.2.3): expunges are then reported as VANISHED.
func (c *Conn) QResyncEnabled() bool {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	_, ok := c.enabled[imap.CapQResync]
	return ok
}

// canQResync is whether QRESYNC is advertised and the session can do it.
func (c *Conn) canQResync() bool {
	_, ok := c.session.(SessionQResync)
	return ok && c.server.options.caps().Has(imap.CapQResync)
}

// qresyncParams is SELECT's QRESYNC parameter (RFC 7162 §3.2.5).
type qresyncParams struct {
	uidValidity uint32
	modSeq      uint64
	knownUIDs   imap.NumSet // nil: not given
}

// readQResyncParams reads " (uidvalidity modseq [known-uids
// [(seq-match uid-match)]])". The sequence match data only helps a server
// that forgets expunges to narrow its answer; it is checked for syntax
// and not used, since Vanished answers from the UIDs the store knows.
func (c *Conn) readQResyncParams(dec *imapwire.Decoder) (*qresyncParams, error) {
	if !c.QResyncEnabled() {
		return nil, newClientBugError("QRESYNC needs ENABLE QRESYNC first (RFC 7162 §3.2.5)")
	}
	if !dec.ExpectSP() {
		return nil, dec.Err()
	}
	var p qresyncParams
	n := 0
	err := dec.ExpectList(func() error {
		n++
		switch n {
		case 1:
			if !dec.ExpectNumber(&p.uidValidity) {
				return dec.Err()
			}
			if p.uidValidity == 0 {
				return newClientBugError("QRESYNC: UIDVALIDITY must not be 0")
			}
		case 2:
			if !dec.ExpectModSeq(&p.modSeq) {
				return dec.Err()
			}
		case 3:
			if isList, err := readSeqMatch(dec); isList || err != nil {
				n++ // no known UIDs, the match data came third
				return err
			}
			if err := expectUIDs(dec, &p.knownUIDs); err != nil {
				return err
			}
		case 4:
			if isList, err := readSeqMatch(dec); !isList && err == nil {
				return newClientBugError("QRESYNC: expected (known-sequence-set known-uid-set)")
			} else if err != nil {
				return err
			}
		default:
			return newClientBugError("QRESYNC: too many parameters")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n < 2 {
		return nil, newClientBugError("QRESYNC: expected (uidvalidity modseq [known-uids])")
	}
	return &p, nil
}

// readSeqMatch reads an optional "(known-sequence-set known-uid-set)".
func readSeqMatch(dec *imapwire.Decoder) (bool, error) {
	var seqs, uids imap.NumSet
	n := 0
	isList, err := dec.List(func() error {
		n++
		switch n {
		case 1:
			if !dec.ExpectNumSet(imapwire.NumKindSeq, &seqs) {
				return dec.Err()
			}
			if imap.IsSearchRes(seqs) {
				return newClientBugError(`QRESYNC: "$" is no sequence set here`)
			}
			return nil
		case 2:
			return expectUIDs(dec, &uids)
		}
		return newClientBugError("QRESYNC: sequence match data has two sets")
	})
	if err == nil && isList && n != 2 {
		err = newClientBugError("QRESYNC: sequence match data has two sets")
	}
	return isList, err
}

// expectUIDs reads a UID set, refusing "$" (RFC 7162 §7: known-uids is a
// sequence-set, which has no "$").
func expectUIDs(dec *imapwire.Decoder, set *imap.NumSet) error {
	if !dec.ExpectNumSet(imapwire.NumKindUID, set) {
		return dec.Err()
	}
	if imap.IsSearchRes(*set) {
		return newClientBugError(`QRESYNC: "$" is no UID set here`)
	}
	return nil
}

// resync answers SELECT's QRESYNC parameter once the mailbox is selected:
// VANISHED (EARLIER) for what was expunged, then FETCH (UID FLAGS MODSEQ)
// for what changed since p.modSeq, among the known UIDs (RFC 7162
// §3.2.5). With another UIDVALIDITY the client's cache is void: nothing
// is sent, and the client fetches afresh.
func (c *Conn) resync(p *qresyncParams, uidValidity uint32) error {
	if p.uidValidity != uidValidity {
		return nil
	}
	uids := p.knownUIDs
	if uids == nil {
		uids = imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	}
	w := &FetchWriter{conn: c, inCommand: true}
	if err := c.session.(SessionQResync).Vanished(w, p.knownUIDs, p.modSeq); err != nil {
		return err
	}
	return c.session.Fetch(w, uids, &imap.FetchOptions{UID: true, Flags: true, ModSeq: true, ChangedSince: p.modSeq})
}

// checkVanishedModifier enforces RFC 7162 §3.2.6: VANISHED only in UID
// FETCH, with CHANGEDSINCE, once QRESYNC is enabled.
func (c *Conn) checkVanishedModifier(numKind NumKind, options *imap.FetchOptions) error {
	switch {
	case !c.QResyncEnabled():
		return newClientBugError("VANISHED needs ENABLE QRESYNC first (RFC 7162 §3.2.6)")
	case numKind != NumKindUID:
		return newClientBugError("VANISHED is only allowed in UID FETCH (RFC 7162 §3.2.6)")
	case options.ChangedSince == 0:
		return newClientBugError("VANISHED needs CHANGEDSINCE (RFC 7162 §3.2.6)")
	}
	return nil
}

// WriteVanished writes "* VANISHED (EARLIER) uids" (RFC 7162 §3.2.10): UIDs
// expunged before this command, which do not change the message count.
func (w *FetchWriter) WriteVanished(uids imap.UIDSet) error {
	if len(uids) == 0 {
		return nil
	}
	return w.conn.writeVanished(uids, true)
}

func (c *Conn) writeVanished(uids imap.UIDSet, earlier bool) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("VANISHED").SP()
	if earlier {
		enc.Atom("(EARLIER)").SP()
	}
	enc.NumSet(uids)
	return enc.CRLF()
}

// enableQResync enables QRESYNC and with it CONDSTORE (RFC 7162 §3.2.3).
func (c *Conn) enableQResync() {
	c.mutex.Lock()
	c.enabled[imap.CapQResync] = struct{}{}
	c.enabled[imap.CapCondStore] = struct{}{}
	c.mutex.Unlock()
}
