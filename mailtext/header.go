package mailtext

import (
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// envelope fills the message's header fields from h. Fields that do not
// parse keep their decoded text where that is useful, and add a defect.
func (a *analysis) envelope(h message.Header) {
	mh := mail.Header{Header: h}
	m := a.msg
	for f := h.Fields(); f.Next(); {
		v, err := f.Text()
		if err != nil {
			v = f.Value() // an unknown charset: the field as written
		}
		m.Fields = append(m.Fields, Field{Name: toUTF8([]byte(f.Key())), Value: toUTF8([]byte(v))})
	}
	m.From = a.addresses(mh, "From")
	m.To = a.addresses(mh, "To")
	m.Cc = a.addresses(mh, "Cc")
	m.Bcc = a.addresses(mh, "Bcc")
	m.Subject = headerText(h, "Subject")
	m.ListID = headerText(h, "List-Id")
	id, err := mh.MessageID()
	if err != nil || id == "" {
		// A Message-ID without its angle brackets or with spaces is
		// common enough to keep as written.
		id = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
	}
	m.MessageID = toUTF8([]byte(id))
	if h.Has("Date") {
		if d, err := mh.Date(); err == nil {
			m.Date = d
		} else {
			a.defect("date %q: %v", h.Get("Date"), err)
		}
	}
}

// headerText is the field's value with encoded words decoded (RFC 2047
// §6) and as UTF-8; "" when absent.
func headerText(h message.Header, key string) string {
	if !h.Has(key) {
		return ""
	}
	// An unknown charset leaves the encoded word as it is.
	s, _ := h.Text(key)
	return strings.TrimSpace(toUTF8([]byte(s)))
}

// addresses parses an address-list field (RFC 5322 §3.4). An unparsable
// one is kept as a display name holding its decoded text, so that search
// still finds it.
func (a *analysis) addresses(h mail.Header, key string) []Address {
	if !h.Has(key) {
		return nil
	}
	list, err := h.AddressList(key)
	if err != nil {
		// net/mail cannot parse comments inside an address, as in
		// "eve(work)@e.test"; without them it may.
		var h2 mail.Header
		h2.SetText(key, stripComments(headerText(h.Header, key)))
		if l, err2 := h2.AddressList(key); err2 == nil {
			list, err = l, nil
		}
	}
	if err != nil {
		a.defect("%s: %v", key, err)
		if s := headerText(h.Header, key); s != "" {
			return []Address{{Name: s}}
		}
		return nil
	}
	out := make([]Address, 0, len(list))
	for _, ad := range list {
		out = append(out, Address{Name: toUTF8([]byte(ad.Name)), Addr: toUTF8([]byte(ad.Address))})
	}
	return out
}

// disposition returns the part's disposition, lower case ("" when none),
// and its file name: Content-Disposition's filename parameter (RFC 2183
// §2.3), else Content-Type's name parameter (RFC 2046 §4.5.1, obsolete
// but common); either may be RFC 2231 encoded or continued, or hold
// encoded words (RFC 2047 forbids them there; mailers write them anyway).
func (a *analysis) disposition(h message.Header) (disp, name string) {
	cd := h.Get("Content-Disposition")
	disp, params, err := mimeParams(cd)
	if err != nil {
		a.defect("content-disposition %q: %v", cd, err)
	}
	name = params["filename"]
	if name == "" {
		_, params, err := mimeParams(h.Get("Content-Type"))
		if err == nil {
			name = params["name"]
		}
	}
	return disp, strings.TrimSpace(name)
}

// stripComments removes the comments of a structured field (RFC 5322
// §3.2.2: parenthesised, nestable, with quoted-pairs), outside quoted
// strings.
func stripComments(s string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case c == '"' && depth == 0:
			quoted = !quoted
			b.WriteByte(c)
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}
