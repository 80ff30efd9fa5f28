package imapserver

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/internal/imapwire"
)

// umbra: CONDSTORE (RFC 7162 §3), which upstream's server lacked: the
// parsing of the SELECT, FETCH and STORE modifiers, the MODSEQ search key,
// the HIGHESTMODSEQ status item and response code, and the MODSEQ FETCH
// item. The session does the rest (its data types are upstream's imap
// package's).

// CondStoreEnabled reports whether the client enabled CONDSTORE, by
// ENABLE or by a CONDSTORE-enabling command (RFC 7162 §3.1): from then on
// every FETCH response with FLAGS carries MODSEQ too.
func (c *Conn) CondStoreEnabled() bool {
	return c.Enabled(imap.CapCondStore)
}

func (c *Conn) enableCondStore() {
	if !c.server.options.caps().Has(imap.CapCondStore) {
		return
	}
	c.mutex.Lock()
	c.enabled[imap.CapCondStore] = struct{}{}
	c.mutex.Unlock()
}

// readModifiers reads an optional " (name value ...)" list, as SELECT,
// FETCH and STORE take (RFC 4466 §2), calling item for each name.
func readModifiers(dec *imapwire.Decoder, item func(name string) error) error {
	if !dec.SP() {
		return nil
	}
	return dec.ExpectList(func() error {
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		return item(strings.ToUpper(name))
	})
}

// expectModSeqValue reads " n", a mod-sequence value (RFC 7162 §7).
func expectModSeqValue(dec *imapwire.Decoder, v *uint64) error {
	if !dec.ExpectSP() || !dec.ExpectModSeq(v) {
		return dec.Err()
	}
	return nil
}

// readSelectParams reads SELECT/EXAMINE's optional parameters:
// CONDSTORE, and QRESYNC's, which it returns (nil if absent).
func (c *Conn) readSelectParams(dec *imapwire.Decoder, options *imap.SelectOptions) (*qresyncParams, error) {
	var qr *qresyncParams
	err := readModifiers(dec, func(name string) error {
		switch {
		case name == "CONDSTORE" && c.server.options.caps().Has(imap.CapCondStore):
			options.CondStore = true
			return nil
		case name == "QRESYNC" && c.canQResync() && qr == nil:
			var err error
			qr, err = c.readQResyncParams(dec)
			return err
		}
		return newClientBugError(fmt.Sprintf("Unknown SELECT parameter %s", name))
	})
	return qr, err
}

// readFetchModifiers reads FETCH's optional modifiers: CHANGEDSINCE, and
// QRESYNC's VANISHED, which it reports.
func (c *Conn) readFetchModifiers(dec *imapwire.Decoder, options *imap.FetchOptions) (vanished bool, err error) {
	err = readModifiers(dec, func(name string) error {
		switch {
		case name == "CHANGEDSINCE" && c.server.options.caps().Has(imap.CapCondStore):
			if err := expectModSeqValue(dec, &options.ChangedSince); err != nil {
				return err
			}
			options.ModSeq = true // RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ
			return nil
		case name == "VANISHED" && c.canQResync():
			vanished = true
			return nil
		}
		return newClientBugError(fmt.Sprintf("Unknown FETCH modifier %s", name))
	})
	return vanished, err
}

// readStoreModifiers reads STORE's optional modifiers, UNCHANGEDSINCE,
// with the space after them; they come between the set and the item.
func (c *Conn) readStoreModifiers(dec *imapwire.Decoder, options *imap.StoreOptions) error {
	isList, err := dec.List(func() error {
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		if !strings.EqualFold(name, "UNCHANGEDSINCE") || !c.server.options.caps().Has(imap.CapCondStore) {
			return newClientBugError(fmt.Sprintf("Unknown STORE modifier %s", name))
		}
		return expectModSeqValue(dec, &options.UnchangedSince)
	})
	if err != nil {
		return err
	}
	if isList && !dec.ExpectSP() {
		return dec.Err()
	}
	return nil
}

// readSearchModSeq reads the rest of a MODSEQ search key: an optional
// entry name and type, then the value (RFC 7162 §3.1.5).
func readSearchModSeq(dec *imapwire.Decoder) (*imap.SearchCriteriaModSeq, error) {
	var ms imap.SearchCriteriaModSeq
	if !dec.ExpectSP() {
		return nil, dec.Err()
	}
	var name string
	if dec.String(&name) {
		var typ string
		if !dec.ExpectSP() || !dec.ExpectAtom(&typ) || !dec.ExpectSP() {
			return nil, dec.Err()
		}
		ms.MetadataName, ms.MetadataType = name, imap.SearchCriteriaMetadataType(strings.ToLower(typ))
		switch ms.MetadataType {
		case imap.SearchCriteriaMetadataAll, imap.SearchCriteriaMetadataPrivate, imap.SearchCriteriaMetadataShared:
		default:
			return nil, newClientBugError("MODSEQ entry type must be priv, shared or all")
		}
	} else if dec.Err() != nil {
		return nil, dec.Err()
	}
	if !dec.ExpectModSeq(&ms.ModSeq) {
		return nil, dec.Err()
	}
	return &ms, nil
}

// hasModSeq reports whether criteria use MODSEQ anywhere.
func hasModSeq(c *imap.SearchCriteria) bool {
	if c.ModSeq != nil {
		return true
	}
	for i := range c.Not {
		if hasModSeq(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if hasModSeq(&c.Or[i][0]) || hasModSeq(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// writeHighestModSeq writes the SELECT response code (RFC 7162 §3.1.2.1).
func (c *Conn) writeHighestModSeq(v uint64) error {
	return c.writeStatusResp("", &imap.StatusResponse{
		Type: imap.StatusResponseTypeOK,
		Code: imap.ResponseCode(fmt.Sprintf("HIGHESTMODSEQ %d", v)),
		Text: "Highest",
	})
}

// WriteModSeq writes the message's mod-sequence (RFC 7162 §3.1.4.1).
func (w *FetchResponseWriter) WriteModSeq(v uint64) {
	w.writeItemSep()
	w.enc.Atom("MODSEQ").SP().Special('(').ModSeq(v).Special(')')
}

// ModifiedError is what a session's Store returns when UNCHANGEDSINCE
// kept some messages unchanged: the command still succeeds, with the
// MODIFIED response code naming them (RFC 7162 §3.1.3).
func ModifiedError(set imap.NumSet) error {
	return &imap.Error{
		Type: imap.StatusResponseTypeOK,
		Code: imap.ResponseCode("MODIFIED " + set.String()),
		Text: "Some messages were modified meanwhile",
	}
}
