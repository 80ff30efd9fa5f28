package imapserver

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/internal/imapwire"
)

// umbra: SORT and THREAD (RFC 5256) with the DISPLAYFROM and DISPLAYTO
// sort keys (RFC 5957), which upstream's server lacked. This file parses
// the commands and writes the answers; the session sorts and threads
// (SessionSort).

// SortKey is a SORT key (RFC 5256 §3, RFC 5957 §3).
type SortKey string

const (
	SortArrival     SortKey = "ARRIVAL"
	SortCc          SortKey = "CC"
	SortDate        SortKey = "DATE"
	SortFrom        SortKey = "FROM"
	SortSize        SortKey = "SIZE"
	SortSubject     SortKey = "SUBJECT"
	SortTo          SortKey = "TO"
	SortDisplayFrom SortKey = "DISPLAYFROM"
	SortDisplayTo   SortKey = "DISPLAYTO"
)

var sortKeys = map[string]SortKey{
	"ARRIVAL": SortArrival, "CC": SortCc, "DATE": SortDate, "FROM": SortFrom, "SIZE": SortSize,
	"SUBJECT": SortSubject, "TO": SortTo, "DISPLAYFROM": SortDisplayFrom, "DISPLAYTO": SortDisplayTo,
}

// SortCriterion is one key of a SORT, in reverse order if Reverse.
type SortCriterion struct {
	Key     SortKey
	Reverse bool
}

// Thread is one message of a THREAD answer and the messages below it
// (RFC 5256 §4). Num is 0 for a message that is not in the mailbox (a
// dummy: REFERENCES keeps one as the root of siblings).
type Thread struct {
	Num      uint32
	Children []Thread
}

// The capabilities of the thread algorithms (RFC 5256 §1), for
// Options.Caps.
const (
	ThreadOrderedSubject imap.Cap = "THREAD=ORDEREDSUBJECT"
	ThreadReferences     imap.Cap = "THREAD=REFERENCES"
)

var threadCaps = map[imap.ThreadAlgorithm]imap.Cap{
	imap.ThreadOrderedSubject: ThreadOrderedSubject,
	imap.ThreadReferences:     ThreadReferences,
}

// SessionSort is a session that supports SORT and THREAD.
type SessionSort interface {
	Session
	// Sort returns the numbers (sequence numbers or UIDs, by kind) of
	// the messages matching criteria, sorted by keys (RFC 5256 §3).
	Sort(kind NumKind, keys []SortCriterion, criteria *imap.SearchCriteria) ([]uint32, error)
	// Thread returns the messages matching criteria as threads by alg.
	Thread(kind NumKind, alg imap.ThreadAlgorithm, criteria *imap.SearchCriteria) ([]Thread, error)
}

func (c *Conn) sortSession() (SessionSort, error) {
	ss, ok := c.session.(SessionSort)
	if !ok || !c.server.options.caps().Has(imap.CapSort) {
		return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command"}
	}
	return ss, nil
}

// handleSort reads "SORT (criteria) charset search-key..." (RFC 5256 §3).
func (c *Conn) handleSort(dec *imapwire.Decoder, numKind NumKind) error {
	ss, err := c.sortSession()
	if err != nil {
		return err
	}
	if !dec.ExpectSP() {
		return dec.Err()
	}
	var keys []SortCriterion
	err = dec.ExpectList(func() error {
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		var crit SortCriterion
		if strings.EqualFold(name, "REVERSE") {
			crit.Reverse = true
			if !dec.ExpectSP() || !dec.ExpectAtom(&name) {
				return dec.Err()
			}
		}
		key, ok := sortKeys[strings.ToUpper(name)]
		if !ok {
			return newClientBugError(fmt.Sprintf("Unknown sort key %q", name))
		}
		crit.Key = key
		keys = append(keys, crit)
		return nil
	})
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return newClientBugError("SORT needs at least one sort key")
	}
	criteria, err := readCharsetAndKeys(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}
	nums, err := ss.Sort(numKind, keys, criteria)
	if err != nil {
		return err
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("SORT")
	for _, n := range nums {
		enc.SP().Number(n)
	}
	return enc.CRLF()
}

// handleThread reads "THREAD algorithm charset search-key..." (RFC 5256
// §3).
func (c *Conn) handleThread(dec *imapwire.Decoder, numKind NumKind) error {
	ss, err := c.sortSession()
	if err != nil {
		return err
	}
	var name string
	if !dec.ExpectSP() || !dec.ExpectAtom(&name) {
		return dec.Err()
	}
	alg := imap.ThreadAlgorithm(strings.ToUpper(name))
	if capName, ok := threadCaps[alg]; !ok || !c.server.options.caps().Has(capName) {
		return newClientBugError(fmt.Sprintf("Unknown threading algorithm %q", name))
	}
	criteria, err := readCharsetAndKeys(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}
	threads, err := ss.Thread(numKind, alg, criteria)
	if err != nil {
		return err
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("THREAD")
	if len(threads) > 0 {
		enc.SP()
	}
	for _, t := range threads {
		enc.Special('(')
		writeThread(enc.Encoder, t)
		enc.Special(')')
	}
	return enc.CRLF()
}

// readCharsetAndKeys reads " charset search-key..." to the end of the
// line: SORT and THREAD name the charset without CHARSET. A syntax error
// goes before an unknown charset (BAD before NO, as Dovecot answers).
func readCharsetAndKeys(dec *imapwire.Decoder) (*imap.SearchCriteria, error) {
	var charset string
	if !dec.ExpectSP() || !dec.ExpectAString(&charset) || !dec.ExpectSP() {
		return nil, dec.Err()
	}
	criteria, err := readSearchKeys(dec, "")
	if err != nil {
		return nil, err
	}
	if !dec.ExpectCRLF() {
		return nil, dec.Err()
	}
	return criteria, checkCharset(charset)
}

// writeThread writes a thread without its outer parentheses: a message
// with one child continues the chain ("1 2"), one with several has each
// in parentheses ("1 (2)(3)"), a dummy only its children ("(2)(3)").
func writeThread(enc *imapwire.Encoder, t Thread) {
	if t.Num != 0 {
		enc.Number(t.Num)
	}
	switch len(t.Children) {
	case 0:
		return
	case 1:
		if t.Num != 0 {
			enc.SP()
			writeThread(enc, t.Children[0])
			return
		}
	}
	if t.Num != 0 {
		enc.SP()
	}
	for _, ch := range t.Children {
		enc.Special('(')
		writeThread(enc, ch)
		enc.Special(')')
	}
}
