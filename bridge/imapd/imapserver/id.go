package imapserver

import (
	"strings"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/internal/imapwire"
)

// umbra: ID (RFC 2971), which upstream's server lacked.

// SessionID is a session that answers ID (RFC 2971).
type SessionID interface {
	// ID takes the client's identification (nil for ID NIL) and returns
	// the server's (nil for none).
	ID(client *imap.IDData) *imap.IDData
}

// Bounds of RFC 2971 §3.3.
const (
	maxIDPairs    = 30
	maxIDField    = 30
	maxIDValueLen = 1024
)

func (c *Conn) handleID(dec *imapwire.Decoder) error {
	if !dec.ExpectSP() {
		return dec.Err()
	}
	var (
		client *imap.IDData
		pairs  int
	)
	isList, err := dec.List(func() error {
		var field, value string
		if !dec.ExpectString(&field) || !dec.ExpectSP() || !dec.ExpectNString(&value) {
			return dec.Err()
		}
		pairs++
		if pairs > maxIDPairs || len(field) > maxIDField || len(value) > maxIDValueLen {
			return newClientBugError("ID parameters over the limits of RFC 2971 §3.3")
		}
		if client == nil {
			client = &imap.IDData{}
		}
		setIDField(client, field, value)
		return nil
	})
	if err != nil {
		return err
	}
	if !isList && !dec.ExpectNIL() {
		return dec.Err()
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}
	var server *imap.IDData
	if s, ok := c.session.(SessionID); ok {
		server = s.ID(client)
	}
	return c.writeID(server)
}

func setIDField(d *imap.IDData, field, value string) {
	switch strings.ToLower(field) {
	case "name":
		d.Name = value
	case "version":
		d.Version = value
	case "os":
		d.OS = value
	case "os-version":
		d.OSVersion = value
	case "vendor":
		d.Vendor = value
	case "support-url":
		d.SupportURL = value
	case "address":
		d.Address = value
	case "date":
		d.Date = value
	case "command":
		d.Command = value
	case "arguments":
		d.Arguments = value
	case "environment":
		d.Environment = value
	}
}

func (c *Conn) writeID(d *imap.IDData) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("ID").SP()
	if d == nil {
		enc.NIL()
		return enc.CRLF()
	}
	var kv []string
	for _, p := range [][2]string{
		{"name", d.Name}, {"version", d.Version}, {"os", d.OS}, {"os-version", d.OSVersion},
		{"vendor", d.Vendor}, {"support-url", d.SupportURL}, {"address", d.Address}, {"date", d.Date},
		{"command", d.Command}, {"arguments", d.Arguments}, {"environment", d.Environment},
	} {
		if p[1] != "" {
			kv = append(kv, p[0], p[1])
		}
	}
	if len(kv) == 0 {
		enc.NIL()
		return enc.CRLF()
	}
	enc.List(len(kv), func(i int) { enc.String(kv[i]) })
	return enc.CRLF()
}
