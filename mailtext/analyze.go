package mailtext

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // sets message.CharsetReader: decoders for the IANA charsets
	"github.com/emersion/go-message/textproto"
	htmlcharset "golang.org/x/net/html/charset"
)

// Analyze reads raw, one message in RFC 5322 form, within lim (zero
// fields from DefaultLimits).
func Analyze(raw []byte, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	if len(raw) > lim.MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(raw), lim.MaxSize)
	}
	a := &analysis{lim: lim, msg: &Message{}}
	e, err := a.read(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	a.envelope(e.Header)
	if err := a.walk(e, 0); err != nil {
		return nil, err
	}
	return a.msg, nil
}

// analysis is the state of one Analyze call.
type analysis struct {
	lim   Limits
	msg   *Message
	parts int // entities seen
	text  int // decoded text bytes kept
}

func (a *analysis) defect(format string, args ...any) {
	a.msg.Defects = append(a.msg.Defects, fmt.Sprintf(format, args...))
}

// read parses one entity's header from r; its body is r's rest, with its
// transfer encoding and, for text, its charset undone. An unknown
// encoding or charset leaves the body as it is, a defect.
func (a *analysis) read(r io.Reader) (*message.Entity, error) {
	// The header is read through a limit one byte over MaxHeader; what it
	// took of that, less what br holds ahead, is its size.
	lr := &io.LimitedReader{R: r, N: int64(a.lim.MaxHeader) + 1}
	br := bufio.NewReader(lr)
	h, err := textproto.ReadHeader(br)
	if int64(a.lim.MaxHeader)+1-lr.N-int64(br.Buffered()) > int64(a.lim.MaxHeader) {
		return nil, fmt.Errorf("%w: header over %d bytes", ErrTooLarge, a.lim.MaxHeader)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	// The body is what br buffered and r's rest, without the header limit.
	body := io.MultiReader(io.LimitReader(br, int64(br.Buffered())), r)
	e, err := message.New(message.Header{Header: h}, body)
	if err != nil {
		if e == nil || !(message.IsUnknownCharset(err) || message.IsUnknownEncoding(err)) {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		a.defect("%v", err)
	}
	return e, nil
}

// walk visits entity e, nested depth levels below the message.
func (a *analysis) walk(e *message.Entity, depth int) error {
	a.parts++
	if a.parts > a.lim.MaxParts {
		return fmt.Errorf("%w: more than %d", ErrTooManyParts, a.lim.MaxParts)
	}
	if depth > a.lim.MaxDepth {
		return fmt.Errorf("%w: more than %d levels", ErrTooDeep, a.lim.MaxDepth)
	}
	// RFC 2045 §5.2: no or an unparsable Content-Type is text/plain
	// in US-ASCII.
	mt, params, err := e.Header.ContentType()
	if err != nil || mt == "" {
		if err != nil {
			a.defect("content-type %q: %v", e.Header.Get("Content-Type"), err)
		}
		mt, params = "text/plain", map[string]string{}
	}
	mt = strings.ToLower(mt)
	if mr := e.MultipartReader(); mr != nil {
		return a.multipart(mr, depth)
	}
	disp, name := a.disposition(e.Header)
	switch {
	case mt == "message/rfc822" || mt == "message/global":
		// A message forwarded as an attachment is one (a file the reader
		// can save), and its own text and attachments are a click away:
		// they are this message's too, for search and for the bridge's
		// risky-attachment mark.
		if disp == "attachment" {
			a.msg.Attachments = append(a.msg.Attachments, Attachment{Type: mt, Filename: name})
		}
		return a.attached(e.Body, depth)
	case strings.HasPrefix(mt, "text/") && disp != "attachment":
		return a.textPart(e.Body, mt, params["charset"])
	}
	a.msg.Attachments = append(a.msg.Attachments, Attachment{Type: mt, Filename: name})
	return nil
}

// multipart visits the parts of a multipart body (RFC 2046 §5.1). A body
// that ends without its close delimiter keeps the parts read so far.
func (a *analysis) multipart(mr message.MultipartReader, depth int) error {
	defer mr.Close()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil && (p == nil || !(message.IsUnknownCharset(err) || message.IsUnknownEncoding(err))) {
			a.defect("multipart: %v", err)
			return nil
		}
		if err != nil {
			a.defect("%v", err)
		}
		if err := a.walk(p, depth+1); err != nil {
			return err
		}
	}
}

// attached visits a message/rfc822 part: its text is the message's too,
// and its Subject reads as text.
func (a *analysis) attached(body io.Reader, depth int) error {
	e, err := a.read(body)
	if errors.Is(err, ErrMalformed) {
		a.defect("attached message: %v", err)
		return nil
	}
	if err != nil {
		return err
	}
	if s := headerText(e.Header, "Subject"); s != "" {
		if err := a.keep(Part{Type: "message/rfc822", Text: s}); err != nil {
			return err
		}
	}
	return a.walk(e, depth+1)
}

// textPart keeps the decoded text of a text part.
func (a *analysis) textPart(body io.Reader, mt, charset string) error {
	// One byte more than the budget tells a body that fits from one that
	// does not.
	left := a.lim.MaxText - a.text
	b, err := io.ReadAll(io.LimitReader(body, int64(left)+1))
	if err != nil {
		// A transfer encoding broken in the middle: keep what decoded.
		a.defect("%s body: %v", mt, err)
	}
	if len(b) > left {
		return fmt.Errorf("%w: decoded text over %d bytes", ErrTooLarge, a.lim.MaxText)
	}
	var s string
	switch strings.ToLower(charset) {
	case "", "us-ascii":
		if mt == "text/html" && !utf8.Valid(b) {
			s = htmlToUTF8(b)
		} else {
			s = toUTF8(b)
		}
	default:
		// Decoded from its declared charset, so bytes that are not UTF-8
		// now are damage, not another charset.
		s = strings.ToValidUTF8(string(b), "\uFFFD")
	}
	if mt == "text/html" {
		s = HTMLToText([]byte(s))
	}
	return a.keep(Part{Type: mt, Charset: strings.ToLower(charset), Text: s})
}

func (a *analysis) keep(p Part) error {
	a.text += len(p.Text)
	if a.text > a.lim.MaxText {
		return fmt.Errorf("%w: decoded text over %d bytes", ErrTooLarge, a.lim.MaxText)
	}
	a.msg.Parts = append(a.msg.Parts, p)
	return nil
}

// htmlToUTF8 decodes an HTML body of no declared charset and not UTF-8
// in the charset its meta element names, else as Windows-1252 (the
// HTML Living Standard's encoding sniffing, §13.2.3.2).
func htmlToUTF8(b []byte) string {
	enc, _, _ := htmlcharset.DetermineEncoding(b, "text/html")
	d, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return toUTF8(b)
	}
	return strings.ToValidUTF8(string(d), "\uFFFD")
}

// toUTF8 returns b, text of no declared charset, as UTF-8: b itself when
// it is UTF-8 (RFC 6532), else read as Windows-1252, as browsers read
// undeclared 8-bit text (WHATWG Encoding, "windows-1252" as the default
// of legacy content).
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	r, err := message.CharsetReader("windows-1252", bytes.NewReader(b))
	if err == nil {
		if d, err := io.ReadAll(r); err == nil {
			return string(d)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
