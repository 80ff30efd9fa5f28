package provider

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"umbra/dmime"
	"umbra/provider/store"
	"umbra/signet"
)

// Errors of Submit that the caller (DMAP send) reports to the user.
var (
	ErrNotAuthor   = errors.New("provider: the message's author is not the submitting account")
	ErrNotActive   = errors.New("provider: the account is not active")
	ErrBadMessage  = errors.New("provider: not a valid D/MIME message from this account")
	ErrNotDarkMail = errors.New("provider: the destination domain has no _dime record")
)

// Submitted says what became of a submitted message.
type Submitted struct {
	Digest store.MessageID
	Local  bool  // delivered to a local account at once
	Queue  int64 // the queue entry, when relayed
}

// Submit is the origin's half of sending (DESIGN §2, §6): account (the
// authenticated submitter) hands over one sealed D/MIME message. The
// provider opens the origin keyslot, checks that the author is account with
// one of its signets (and, in a version 1 message, that the author's
// signature verifies with it), adds the
// origin signature and either delivers it locally or queues it for the
// destination domain. It returns only once the message is durable.
//
// msg (size bytes) is read three times, each pass streaming: checked,
// copied with the origin signature into the spool, and read from there
// into the store; so memory stays bounded whatever its size.
func (p *Provider) Submit(ctx context.Context, account string, msg io.ReaderAt, size int64) (Submitted, error) {
	acct, err := p.st.Accounts().Get(ctx, account)
	if err != nil || acct.State != store.StateActive {
		return Submitted{}, fmt.Errorf("%w: %s", ErrNotActive, account)
	}
	// The author must be the account, with one of its signets. A version 1
	// message's author signature is checked too; version 2 seals it for
	// the recipient alone (docs/spec/dmime.md §7.3), and the session is
	// what authenticates the author to its own provider.
	authorSignet := func(address string, fp signet.Fingerprint) (*signet.User, error) {
		if address != account {
			return nil, fmt.Errorf("%w: origin chunk names %q", ErrNotAuthor, address)
		}
		rec, err := p.st.Signets().ByFingerprint(ctx, fp)
		if err != nil || rec.Address != account {
			return nil, fmt.Errorf("%w: signet %s is not one of %s's", ErrBadMessage, fp, account)
		}
		return signet.ParseUser(rec.Signet)
	}
	authorKey := func(address string, fp signet.Fingerprint, _ *dmime.Carried) (ed25519.PublicKey, error) {
		u, err := authorSignet(address, fp)
		if err != nil {
			return nil, err
		}
		return u.SigningKey, nil
	}
	opened, err := dmime.Open(io.NewSectionReader(msg, 0, size), dmime.RoleOrigin, p.org.Enc, dmime.OpenOptions{AuthorKey: authorKey})
	if errors.Is(err, ErrNotAuthor) {
		return Submitted{}, err
	}
	if err != nil {
		return Submitted{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	oi, err := opened.Origin()
	if err != nil {
		return Submitted{}, err
	}
	if !opened.AuthorVerified {
		if _, err := authorSignet(oi.Author, oi.AuthorFingerprint); err != nil {
			return Submitted{}, err
		}
	}
	// The origin signature adds one chunk of well under 1 KiB.
	signed := p.spool.Body(size + 1<<10)
	defer signed.Close()
	if err := dmime.SignOrigin(signed, io.NewSectionReader(msg, 0, size), p.org.SOK); err != nil {
		return Submitted{}, fmt.Errorf("provider: origin signature: %w", err)
	}
	sr, err := signed.Reader()
	if err != nil {
		return Submitted{}, err
	}
	res := Submitted{Digest: store.MessageID(opened.Layout.Digest)}
	if oi.DestinationDomain == p.domain {
		if _, _, err := p.accept(ctx, sr, sr.Size(), p.domain, p.org.Signet.MessageKeys()); err != nil {
			return Submitted{}, err
		}
		res.Local = true
		return res, nil
	}
	res.Queue, _, err = p.st.Queue().Enqueue(ctx, store.Outbound{
		MessageID: res.Digest,
		Domain:    oi.DestinationDomain,
		Message:   sr,
		Size:      sr.Size(),
		BounceTo:  []byte(account),
	})
	if err != nil {
		return Submitted{}, err
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return res, nil
}
