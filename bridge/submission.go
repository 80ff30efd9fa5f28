package bridge

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/ratelimit"
	"umbra/signet"
	"umbra/wiretrace"
)

// MaxMessage bounds a submitted message (what DMAP send accepts too).
const MaxMessage = 64 << 20

// maxRecipients bounds the recipients of one submission: each is one
// sealed message (DESIGN §2).
const maxRecipients = 100

// submission is the SMTP submission server (RFC 6409) a mail client sends
// through: AUTH with the bridge's password, then each recipient is checked
// to have an Umbra signet, and the message goes to the outbox with a copy
// in Sent.
type submission struct {
	b   *Bridge
	srv *smtp.Server
}

func newSubmission(b *Bridge, tlsConfig *tls.Config) *submission {
	s := &submission{b: b}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		// At --log-level trace, the commands and answers (wiretrace).
		return wiretrace.SMTPSession(&smtpSession{s: s},
			b.log.With("server", "smtp", "remote", c.Conn().RemoteAddr().String())), nil
	}))
	s.srv.Domain = "localhost"
	s.srv.TLSConfig = tlsConfig
	s.srv.AllowInsecureAuth = true // loopback only (DESIGN §9)
	s.srv.MaxMessageBytes = MaxMessage
	s.srv.MaxRecipients = maxRecipients
	s.srv.ReadTimeout = 5 * time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.EnableSMTPUTF8 = true
	s.srv.ErrorLog = slogAdapter{b}
	return s
}

type slogAdapter struct{ b *Bridge }

func (a slogAdapter) Printf(format string, v ...any) {
	a.b.log.Info("smtp: connection error", "detail", fmt.Sprintf(format, v...), ratelimit.ClientFault)
}
func (a slogAdapter) Println(v ...any) {
	a.b.log.Info("smtp: connection error", "detail", fmt.Sprint(v...), ratelimit.ClientFault)
}

// smtpSession is one client connection.
type smtpSession struct {
	s      *submission
	authed bool
	from   string
	rcpts  []string
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required: log in with your address and the bridge password"}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		b := ss.s.b
		// Guessing is slowed and capped for the whole bridge (issue 11):
		// every client comes from loopback.
		err := b.guard.Check(b.ctx, func() error {
			okUser := subtle.ConstantTimeCompare([]byte(strings.ToLower(username)), []byte(b.address))
			okPass := subtle.ConstantTimeCompare([]byte(password), []byte(b.MailPassword()))
			if okUser&okPass != 1 {
				return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Wrong username or bridge password"}
			}
			return nil
		})
		if errors.Is(err, ratelimit.ErrTooManyFailures) {
			b.log.Info("smtp: login refused: too many failed logins", "err", err, ratelimit.ClientFault)
			return &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many failed logins: " + err.Error()}
		}
		if err != nil {
			return err
		}
		ss.authed = true
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Cannot act for another user"}
			}
			return check(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return errAuthRequired
	}
	if from != "" && !strings.EqualFold(from, ss.s.b.address) {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: fmt.Sprintf("This bridge sends only as %s", ss.s.b.address)}
	}
	ss.from = ss.s.b.address
	return nil
}

// Rcpt refuses, at once and in words a person understands, an address
// that has no Umbra signet. When the provider cannot be asked, the
// recipient is accepted and checked again when the message is sent.
func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !ss.authed {
		return errAuthRequired
	}
	addr := strings.ToLower(to)
	if err := signet.CheckAddress(addr); err != nil {
		return &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: fmt.Sprintf("%q is not a valid address: %v", to, err)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, _, err := ss.s.b.dir.User(ctx, addr, signet.Fingerprint{}); err != nil {
		legacy, lerr := false, err
		if isPermanent(err) {
			var derr error
			if legacy, derr = ss.s.b.dir.IsLegacy(ctx, signet.DomainOf(addr)); derr != nil && !isPermanent(derr) {
				lerr = derr // cannot tell now
			}
		}
		switch {
		case legacy && ss.s.b.DarkOnly():
			// Dark only: legacy mail goes only OpenPGP-encrypted
			// (docs/spec/legacy-pgp.md §7.4). Whether the message
			// replies to an encrypted one does not matter here: dark
			// only uses any key there is.
			key, kerr := ss.s.b.legacyKey(ctx, addr, false)
			if kerr != nil {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Could not read the recipient's OpenPGP state: " + kerr.Error()}
			}
			if key == nil {
				return errDarkOnly(addr)
			}
		case legacy:
			// Outside Umbra: the provider relays it over SMTP
			// (docs/spec/legacy.md §3), OpenPGP-encrypted when the
			// recipient has a key (docs/spec/legacy-pgp.md §7.2).
		case isPermanent(lerr):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
				Message: fmt.Sprintf("%s cannot receive Umbra mail: %v", addr, err)}
		default:
			ss.s.b.log.Info("submission: recipient not checked now (provider unreachable); the outbox will", "err", lerr)
		}
	}
	// The same recipient twice gets one copy.
	if !slices.Contains(ss.rcpts, addr) {
		ss.rcpts = append(ss.rcpts, addr)
	}
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	if !ss.authed {
		return errAuthRequired
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxMessage+1))
	if err != nil {
		return err
	}
	if len(raw) > MaxMessage {
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ss.s.b.Submit(ctx, ss.rcpts, raw); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Could not queue the message: " + err.Error()}
	}
	return nil
}

func (ss *smtpSession) Reset() {
	ss.from, ss.rcpts = "", nil
}

func (ss *smtpSession) Logout() error { return nil }

// Submit queues a message from this account to rcpts: the Bcc header goes
// (each recipient gets a sealed message of their own, so Bcc recipients
// stay invisible to the others), the copy goes into Sent, and the outbox
// sends it. Once Submit returns nil the message is durable.
func (b *Bridge) Submit(ctx context.Context, rcpts []string, raw []byte) error {
	if len(rcpts) == 0 {
		return errors.New("no recipient")
	}
	mime, bcc := prepareOutgoing(raw, b.address)
	encrypted, err := b.encryptForLegacy(ctx, rcpts, mime)
	if err != nil {
		return err
	}
	// The author's own copy keeps Bcc: only the author sees it. Most
	// clients leave Bcc out of what they submit: it is then the
	// recipients To and Cc do not name.
	if len(bcc) == 0 {
		bcc = blindField(mime, rcpts)
	}
	sent := stamp(withFields(mime, bcc), b.sentVerdict(rcpts, encrypted))
	// The Sent copy and the outbox entries commit together: a crash leaves
	// all or nothing, never a Sent copy of mail that will not go. Each
	// OpenPGP recipient has an entry of its own, with its own ciphertext.
	batch := new(mailstore.Batch)
	if err := batch.Add(mailstore.NewMessage{Key: syncdoc.NewKey(), Mailbox: "Sent", Flags: []string{`\Seen`}, MIME: sent}, mailstore.Local); err != nil {
		return err
	}
	var rest []string
	for _, r := range rcpts {
		if enc, ok := encrypted[r]; ok {
			if err := batch.Enqueue(mailstore.Outgoing{From: b.address, Recipients: []string{r}, MIME: enc}); err != nil {
				return err
			}
		} else {
			rest = append(rest, r)
		}
	}
	if len(rest) > 0 {
		if err := batch.Enqueue(mailstore.Outgoing{From: b.address, Recipients: rest, MIME: mime}); err != nil {
			return err
		}
	}
	if err := b.store.Commit(ctx, batch); err != nil {
		return err
	}
	b.st.queued()
	wake(b.outboxWake)
	return nil
}

// prepareOutgoing normalises line ends to CRLF (RFC 5322 §2.1), drops
// the Bcc field (RFC 5322 §3.6.3, each recipient is sent separately) and
// any Umbra-Security field, and adds Date and Message-ID when the client
// left them out. bcc is the Bcc field as it came, for the author's own
// copy only.
func prepareOutgoing(raw []byte, from string) (mime, bcc []byte) {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	raw = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
	header, body, found := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !found {
		header, body = bytes.TrimSuffix(raw, []byte("\r\n")), nil
	}
	var out, blind bytes.Buffer
	has := map[string]bool{}
	// A continuation line before any field continues nothing (RFC 5322
	// §2.2.3): it goes.
	dropping, inBcc := true, false
	for _, line := range bytes.SplitAfter(append(header, "\r\n"...), []byte("\r\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			switch {
			case inBcc:
				blind.Write(line)
			case !dropping:
				out.Write(line)
			}
			continue
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		n := strings.ToLower(strings.TrimSpace(string(name)))
		has[n] = true
		inBcc = n == "bcc"
		dropping = inBcc || n == strings.ToLower(SecurityHeader)
		switch {
		case inBcc:
			blind.Write(line)
		case !dropping:
			out.Write(line)
		}
	}
	if !has["date"] {
		fmt.Fprintf(&out, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	}
	if !has["message-id"] {
		fmt.Fprintf(&out, "Message-ID: <%s@%s>\r\n", syncdoc.NewKey(), signet.DomainOf(from))
	}
	out.WriteString("\r\n")
	out.Write(body)
	return out.Bytes(), blind.Bytes()
}

// blindField is a Bcc field naming the recipients of rcpts that the To
// and Cc fields of mime do not, or nothing when there are none or the
// header does not parse.
func blindField(mime []byte, rcpts []string) []byte {
	m, err := mail.ReadMessage(bytes.NewReader(mime))
	if err != nil {
		return nil
	}
	named := map[string]bool{}
	for _, f := range []string{"To", "Cc"} {
		list, err := m.Header.AddressList(f)
		if err != nil && !errors.Is(err, mail.ErrHeaderNotPresent) {
			return nil
		}
		for _, a := range list {
			named[strings.ToLower(a.Address)] = true
		}
	}
	var blind []string
	for _, r := range rcpts {
		if !named[strings.ToLower(r)] {
			blind = append(blind, r)
		}
	}
	if len(blind) == 0 {
		return nil
	}
	return []byte("Bcc: " + strings.Join(blind, ", ") + "\r\n")
}

// withFields returns mime with fields (whole header lines) added at the
// end of its header section.
func withFields(mime, fields []byte) []byte {
	i := bytes.Index(mime, []byte("\r\n\r\n"))
	if len(fields) == 0 || i < 0 {
		return mime
	}
	return slices.Concat(mime[:i+2], fields, mime[i+2:])
}

// loginServer is the server side of the LOGIN SASL mechanism
// (draft-murchison-sasl-login), which go-sasl does not provide and older
// mail clients still use: the username and the password, each after a
// challenge.
type loginServer struct {
	check    func(username, password string) error
	username string
	step     int
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	l.step++
	switch l.step {
	case 1:
		if response != nil {
			l.username = string(response) // initial response: the username
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.username = string(response)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.username, string(response))
	}
	return nil, false, errors.New("unexpected LOGIN response")
}
