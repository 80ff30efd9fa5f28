package mailtext

import (
	"errors"
	"time"
)

// Errors an analysis fails with; the returned error wraps one of them.
var (
	// ErrTooLarge: the message, one header or its decoded text is larger
	// than the Limits allow.
	ErrTooLarge = errors.New("mailtext: message too large")
	// ErrTooManyParts: the message has more MIME parts than allowed.
	ErrTooManyParts = errors.New("mailtext: too many MIME parts")
	// ErrTooDeep: multiparts or message/rfc822 parts nest too deep.
	ErrTooDeep = errors.New("mailtext: MIME parts nested too deep")
	// ErrMalformed: the top-level header cannot be read at all.
	ErrMalformed = errors.New("mailtext: malformed message")
)

// Limits bound the work one analysis does. A zero field takes its value
// from DefaultLimits.
type Limits struct {
	MaxSize   int // raw message bytes
	MaxHeader int // bytes of one header section
	MaxParts  int // MIME entities, the message itself included
	MaxDepth  int // nesting of multiparts and message/rfc822 parts
	MaxText   int // decoded text of all text parts together, in bytes
}

// DefaultLimits are generous for real mail: the largest messages mail
// providers accept are around 50 MB.
var DefaultLimits = Limits{
	MaxSize:   64 << 20,
	MaxHeader: 1 << 20,
	MaxParts:  1000,
	MaxDepth:  20,
	MaxText:   32 << 20,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxSize > 0 {
		d.MaxSize = l.MaxSize
	}
	if l.MaxHeader > 0 {
		d.MaxHeader = l.MaxHeader
	}
	if l.MaxParts > 0 {
		d.MaxParts = l.MaxParts
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxText > 0 {
		d.MaxText = l.MaxText
	}
	return d
}

// Address is one mailbox of an address field (RFC 5322 §3.4), its display
// name decoded (RFC 2047). A group's members appear as mailboxes.
type Address struct {
	Name string
	Addr string // addr-spec, "local@domain"; may be empty when unparsable
}

// Field is one header field: its name as written and its decoded value.
type Field struct {
	Name, Value string
}

// Part is the decoded text of one text part.
type Part struct {
	// Type is the media type, lower case: "text/plain", "text/html", ...;
	// "message/rfc822" for the Subject of an attached message.
	Type string
	// Charset is the declared charset, lower case, "" when none.
	Charset string
	// Text is the part's content as UTF-8; for text/html, the text a
	// reader sees (HTMLToText).
	Text string
}

// Attachment describes a part that is not text for reading: one with a
// disposition of attachment, a file name, or a non-text media type.
type Attachment struct {
	Type     string // media type, lower case
	Filename string // decoded; "" when the part names none
}

// Message is the analysis of one message.
type Message struct {
	From, To, Cc, Bcc []Address
	Subject           string
	MessageID         string // without angle brackets
	ListID            string // the List-Id field (RFC 2919), decoded
	Date              time.Time
	// Fields are all the fields of the top-level header, in order, each
	// value decoded as Subject is (RFC 2047 encoded words, UTF-8): what
	// IMAP SEARCH TEXT and HEADER look in (RFC 9051 §6.4.4).
	Fields []Field
	// Parts are the text parts, in message order, those of attached
	// messages (message/rfc822, message/global) included, whether the
	// attached message is inline or an attachment.
	Parts []Part
	// Attachments are in message order, those of attached messages
	// included; an attached message with a disposition of attachment is
	// one itself, listed before its own.
	Attachments []Attachment
	// Defects are problems the analysis worked around, for diagnosis.
	Defects []string
}

// HasAttachment reports whether the message has an attachment.
func (m *Message) HasAttachment() bool { return len(m.Attachments) > 0 }
