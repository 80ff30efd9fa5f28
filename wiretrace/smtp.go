package wiretrace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPSession traces a go-smtp server's session at LevelTrace: each
// command the session is given (MAIL, RCPT, DATA, AUTH) and its answer,
// with AUTH's exchange redacted and DATA's message shown as its size.
//
// It traces commands, not bytes: go-smtp's connection cannot be wrapped
// past STARTTLS (its TLS runs under the line reader), and its Server.Debug
// is one writer for every connection, both directions mixed, passwords
// and mail included. A log without LevelTrace gets s itself.
func SMTPSession(s smtp.Session, log *slog.Logger) smtp.Session {
	if log == nil || !log.Enabled(context.Background(), LevelTrace) {
		return s
	}
	t := &smtpTrace{s: s, log: log}
	if a, ok := s.(smtp.AuthSession); ok {
		return &smtpAuthTrace{smtpTrace: t, a: a}
	}
	return t
}

type smtpTrace struct {
	s   smtp.Session
	log *slog.Logger
}

func (t *smtpTrace) trace(s string) { t.log.Log(context.Background(), LevelTrace, s) }

// answer traces the session's answer to a command.
func (t *smtpTrace) answer(err error, ok string) error {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		t.trace("S: " + ok)
	case errors.As(err, &se):
		t.trace(fmt.Sprintf("S: %d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message))
	default:
		t.trace("S: (failed) " + err.Error())
	}
	return err
}

func (t *smtpTrace) Mail(from string, opts *smtp.MailOptions) error {
	t.trace(fmt.Sprintf("C: MAIL FROM:<%s>%s", from, mailParams(opts)))
	return t.answer(t.s.Mail(from, opts), "250 sender ok")
}

func (t *smtpTrace) Rcpt(to string, opts *smtp.RcptOptions) error {
	t.trace(fmt.Sprintf("C: RCPT TO:<%s>", to))
	return t.answer(t.s.Rcpt(to, opts), "250 recipient ok")
}

func (t *smtpTrace) Data(r io.Reader) error {
	t.trace("C: DATA")
	c := &countReader{r: r}
	err := t.s.Data(c)
	t.trace(fmt.Sprintf("C: <%d bytes of data>", c.n))
	return t.answer(err, "250 message accepted")
}

func (t *smtpTrace) Reset() {
	t.trace("C: RSET (or the end of a transaction)")
	t.s.Reset()
}

func (t *smtpTrace) Logout() error {
	t.trace("C: QUIT (or the end of the connection)")
	return t.s.Logout()
}

// mailParams shows MAIL's parameters that go-smtp parsed.
func mailParams(o *smtp.MailOptions) string {
	if o == nil {
		return ""
	}
	var s string
	if o.Body != "" {
		s += " BODY=" + string(o.Body)
	}
	if o.Size > 0 {
		s += fmt.Sprintf(" SIZE=%d", o.Size)
	}
	if o.UTF8 {
		s += " SMTPUTF8"
	}
	return s
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// smtpAuthTrace is smtpTrace for a session that offers AUTH.
type smtpAuthTrace struct {
	*smtpTrace
	a smtp.AuthSession
}

func (t *smtpAuthTrace) AuthMechanisms() []string { return t.a.AuthMechanisms() }

func (t *smtpAuthTrace) Auth(mech string) (sasl.Server, error) {
	t.trace("C: AUTH " + mech + " " + Redacted)
	srv, err := t.a.Auth(mech)
	if err != nil {
		return nil, t.answer(err, "")
	}
	return &saslTrace{t: t.smtpTrace, s: srv}, nil
}

// saslTrace traces the end of a SASL exchange, never its content.
type saslTrace struct {
	t *smtpTrace
	s sasl.Server
}

func (s *saslTrace) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := s.s.Next(response)
	if err != nil {
		return challenge, done, s.t.answer(err, "")
	}
	if done {
		s.t.trace("S: 235 authenticated")
	}
	return challenge, done, nil
}
