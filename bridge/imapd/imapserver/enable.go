package imapserver

import (
	"github.com/emersion/go-imap/v2"

	internal "umbra/bridge/imapd/internal/imapint"
	"umbra/bridge/imapd/internal/imapwire"
)

func (c *Conn) handleEnable(dec *imapwire.Decoder) error {
	var requested []imap.Cap
	for dec.SP() {
		cap, err := internal.ExpectCap(dec)
		if err != nil {
			return err
		}
		requested = append(requested, cap)
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}

	if err := c.checkState(imap.ConnStateAuthenticated); err != nil {
		return err
	}

	var enabled []imap.Cap
	for _, req := range requested {
		switch req {
		case imap.CapIMAP4rev2, imap.CapUTF8Accept:
			enabled = append(enabled, req)
		case imap.CapCondStore: // umbra: RFC 7162 §3.1
			if c.server.options.caps().Has(req) {
				enabled = append(enabled, req)
			}
		case imap.CapQResync: // umbra: RFC 7162 §3.2.3, which enables CONDSTORE too
			if c.canQResync() {
				enabled = append(enabled, req)
				c.enableQResync()
			}
		}
	}

	c.mutex.Lock()
	for _, e := range enabled {
		c.enabled[e] = struct{}{}
	}
	c.mutex.Unlock()

	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("ENABLED")
	for _, c := range enabled {
		enc.SP().Atom(string(c))
	}
	return enc.CRLF()
}
