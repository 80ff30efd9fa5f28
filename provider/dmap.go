package provider

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"umbra/dmap"
	"umbra/dmtp"
	"umbra/provider/store"
	"umbra/signet"
)

// dmapBackend serves DMAP (docs/spec/dmap.md) from the provider's store:
// the handlers in package dmap decide who may do what; this maps their
// requests onto accounts, devices, sessions and mailboxes, and the
// store's errors onto DMAP's.
type dmapBackend struct{ p *Provider }

var _ dmap.Backend = dmapBackend{}

// dmapErr maps store and provider errors to DMAP errors; anything else
// passes through and becomes a logged 500.
func dmapErr(err error) error {
	var ce *store.ConflictError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return dmap.Conflict(ce.Current)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %v", dmap.ErrNotFound, err)
	case errors.Is(err, store.ErrResync):
		return fmt.Errorf("%w: %v", dmap.ErrResync, err)
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("%w: %v", dmap.ErrExists, err)
	case errors.Is(err, store.ErrInvalid):
		return fmt.Errorf("%w: %v", dmap.ErrBadField, err)
	case errors.Is(err, ErrInvite):
		return dmap.ErrInvite
	case errors.Is(err, ErrNotAuthor):
		return fmt.Errorf("%w: %v", dmap.ErrNotAuthor, err)
	case errors.Is(err, ErrBadMessage):
		return fmt.Errorf("%w: %v", dmap.ErrBadMessage, err)
	case errors.Is(err, ErrNotActive), errors.Is(err, store.ErrState), errors.Is(err, ErrDowngrade):
		return fmt.Errorf("%w: %v", dmap.ErrForbidden, err)
	case errors.Is(err, ErrDarkDomain):
		return dmap.ErrDarkMail
	case errors.Is(err, ErrNotFromAccount):
		return fmt.Errorf("%w: %v", dmap.ErrNotAuthor, err)
	case errors.Is(err, ErrDNSTemporary):
		return fmt.Errorf("%w: %v", dmap.ErrUnavailable, err)
	}
	return err
}

func (b dmapBackend) Register(ctx context.Context, r dmap.Registration) ([]byte, error) {
	u, err := b.p.Issue(ctx, r.Address, r.Invite, store.Mode(r.Mode), r.Request)
	if err != nil {
		var se *signet.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: %v", dmap.ErrBadSignet, err)
		}
		return nil, dmapErr(err)
	}
	d := r.Device
	if err := b.p.st.Devices().Add(ctx, store.Device{Account: r.Address, ID: d.ID, Key: d.Key, Name: d.Name, Created: b.p.cfg.Now()}); err != nil {
		return nil, dmapErr(err)
	}
	if r.Backup != nil {
		if err := b.SetKeyBackup(ctx, r.Address, *r.Backup); err != nil {
			return nil, err
		}
	}
	return u.Bytes(), nil
}

func (b dmapBackend) Rotate(ctx context.Context, account string, req *signet.User) ([]byte, error) {
	u, err := b.p.Issue(ctx, account, "", "", req)
	if err != nil {
		if errors.Is(err, ErrInvite) || errors.Is(err, ErrNotActive) {
			return nil, dmapErr(err)
		}
		return nil, fmt.Errorf("%w: %v", dmap.ErrBadSignet, err)
	}
	return u.Bytes(), nil
}

// Signet answers for this domain from the store and for other domains
// through their DMTP servers (the device never contacts another domain:
// DESIGN §6, signet look-up proxy).
func (b dmapBackend) Signet(ctx context.Context, name string, fp signet.Fingerprint) ([]byte, error) {
	if name == b.p.domain || signet.DomainOf(name) == b.p.domain {
		return (&session{p: b.p, conn: ctx}).Signet(name, fp)
	}
	var raw []byte
	err := b.remote(ctx, name, func(cl *dmtp.Client) (err error) {
		raw, err = cl.Signet(name, fp)
		return err
	})
	return raw, err
}

func (b dmapBackend) History(ctx context.Context, address string, start, stop signet.Fingerprint) ([][]byte, error) {
	if signet.DomainOf(address) == b.p.domain {
		return (&session{p: b.p, conn: ctx}).History(address, start, stop)
	}
	var hist [][]byte
	err := b.remote(ctx, address, func(cl *dmtp.Client) (err error) {
		hist, err = cl.History(address, start, stop)
		return err
	})
	return hist, err
}

// remote runs fn on a DMTP connection to the domain of name (an address
// or a domain), mapping its failures to DMAP's.
func (b dmapBackend) remote(ctx context.Context, name string, fn func(*dmtp.Client) error) error {
	domain := name
	if d := signet.DomainOf(name); d != "" {
		domain = d
	}
	r, err := b.p.remotes.get(ctx, domain)
	if err != nil {
		var pe *permanentError
		if errors.As(err, &pe) {
			return fmt.Errorf("%w: %v", dmap.ErrNotFound, err)
		}
		return fmt.Errorf("%w: %v", dmap.ErrUnavailable, err)
	}
	cl, err := b.p.dial(ctx, r.dx, r.pin)
	if err != nil {
		return fmt.Errorf("%w: %v", dmap.ErrUnavailable, err)
	}
	defer cl.Close()
	err = fn(cl)
	var de *dmtp.Error
	switch {
	case errors.As(err, &de) && !de.Temporary():
		return fmt.Errorf("%w: %v", dmap.ErrNotFound, err)
	case err != nil:
		return fmt.Errorf("%w: %v", dmap.ErrUnavailable, err)
	}
	cl.Quit()
	return nil
}

func toDMAPDevice(d store.Device) dmap.Device {
	return dmap.Device{ID: d.ID, Key: d.Key, Name: d.Name, Created: d.Created, LastSeen: d.LastSeen}
}

func (b dmapBackend) Device(ctx context.Context, address string, key ed25519.PublicKey) (dmap.Device, error) {
	d, err := b.p.st.Devices().ByKey(ctx, address, key)
	return toDMAPDevice(d), dmapErr(err)
}

func (b dmapBackend) AddDevice(ctx context.Context, address string, d dmap.Device) error {
	return dmapErr(b.p.st.Devices().Add(ctx, store.Device{Account: address, ID: d.ID, Key: d.Key, Name: d.Name, Created: b.p.cfg.Now()}))
}

func (b dmapBackend) Devices(ctx context.Context, account string) ([]dmap.Device, error) {
	list, err := b.p.st.Devices().List(ctx, account)
	out := make([]dmap.Device, len(list))
	for i, d := range list {
		out[i] = toDMAPDevice(d)
	}
	return out, dmapErr(err)
}

func (b dmapBackend) RenameDevice(ctx context.Context, account, id, name string) error {
	return dmapErr(b.p.st.Devices().Rename(ctx, account, id, name))
}

func (b dmapBackend) RevokeDevice(ctx context.Context, account, id string) error {
	return dmapErr(b.p.st.Devices().Revoke(ctx, account, id, b.p.cfg.Now()))
}

func (b dmapBackend) KeyBackup(ctx context.Context, address string) (dmap.KeyBackup, error) {
	acct, err := b.p.st.Accounts().Get(ctx, address)
	if err != nil || acct.State != store.StateActive || acct.Mode != store.ModeCautious || acct.KeyBackup == nil {
		return dmap.KeyBackup{}, dmap.ErrNotFound
	}
	return decodeKeyBackup(acct.KeyBackup)
}

func (b dmapBackend) SetKeyBackup(ctx context.Context, account string, kb dmap.KeyBackup) error {
	acct, err := b.p.st.Accounts().Get(ctx, account)
	if err != nil {
		return dmapErr(err)
	}
	if acct.Mode != store.ModeCautious {
		return dmap.ErrWrongMode
	}
	blob, err := encodeKeyBackup(kb)
	if err != nil {
		return err
	}
	return dmapErr(b.p.st.Accounts().SetKeyBackup(ctx, account, blob))
}

func (b dmapBackend) Send(ctx context.Context, account string, msg *io.SectionReader) (dmap.Sent, error) {
	res, err := b.p.Submit(ctx, account, msg, msg.Size())
	if err != nil {
		return dmap.Sent{}, dmapErr(err)
	}
	return dmap.Sent{Digest: res.Digest, Delivered: res.Local}, nil
}

func (b dmapBackend) SendLegacy(ctx context.Context, account, rcpt string, body *io.SectionReader) (dmap.Sent, error) {
	// Legacy mail is read whole (within dmap's MaxMessage), its memory
	// paid from the in-flight budget: its DKIM signature and its sealed
	// queue entry are made in memory.
	if err := b.p.inflight.Take(body.Size()); err != nil {
		e := dmap.ErrUnavailable.With("the server is receiving too much at once; retry shortly")
		e.RetryAfter = time.Second
		return dmap.Sent{}, e
	}
	defer b.p.inflight.Give(body.Size())
	msg, err := io.ReadAll(body)
	if err != nil {
		return dmap.Sent{}, err
	}
	res, err := b.p.SubmitLegacy(ctx, account, rcpt, msg)
	if err != nil {
		return dmap.Sent{}, dmapErr(err)
	}
	return dmap.Sent{Digest: res.Digest}, nil
}

func (b dmapBackend) PutChallenge(ctx context.Context, c dmap.Challenge) error {
	return dmapErr(b.p.st.Challenges().Put(ctx, store.Challenge{Value: c.Value, Purpose: string(c.Purpose), Address: c.Address, Key: c.Key, Expires: c.Expires}))
}

func (b dmapBackend) TakeChallenge(ctx context.Context, value [32]byte) (dmap.Challenge, error) {
	c, err := b.p.st.Challenges().Take(ctx, value)
	return dmap.Challenge{Value: c.Value, Purpose: dmap.Purpose(c.Purpose), Address: c.Address, Key: c.Key, Expires: c.Expires}, dmapErr(err)
}

func (b dmapBackend) CreateSession(ctx context.Context, s dmap.Session) error {
	return dmapErr(b.p.st.Sessions().Create(ctx, store.Session(s)))
}

func (b dmapBackend) Authenticate(ctx context.Context, h [32]byte) (dmap.Session, error) {
	s, err := b.p.st.Sessions().ByAccess(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return dmap.Session{}, dmap.ErrUnauthorized
	}
	if err != nil {
		return dmap.Session{}, err
	}
	if err := b.p.st.Devices().Touch(ctx, s.Account, s.DeviceID, b.p.cfg.Now()); err != nil {
		b.p.log.Warn("device last-seen", "err", err)
	}
	return dmap.Session(s), nil
}

func (b dmapBackend) Refresh(ctx context.Context, old [32]byte, next dmap.Session) (dmap.Session, error) {
	s, err := b.p.st.Sessions().Refresh(ctx, old, store.Session(next))
	if errors.Is(err, store.ErrNotFound) {
		return dmap.Session{}, dmap.ErrUnauthorized
	}
	return dmap.Session(s), err
}

func toDMAPChange(c store.Change) dmap.Change {
	return dmap.Change{ID: c.DocID, Kind: c.Kind, Revision: c.Revision, Seq: c.Seq, Deleted: c.Deleted, Size: c.Size}
}

func (b dmapBackend) Changes(ctx context.Context, account string, since int64, limit int) ([]dmap.Change, error) {
	list, err := b.p.st.Mailbox().Changes(ctx, account, since, limit)
	out := make([]dmap.Change, len(list))
	for i, c := range list {
		out[i] = toDMAPChange(c)
	}
	return out, dmapErr(err)
}

func (b dmapBackend) Head(ctx context.Context, account string) (int64, error) {
	head, err := b.p.st.Mailbox().Head(ctx, account)
	return head, dmapErr(err)
}

func (b dmapBackend) Watch(account string) (<-chan struct{}, func()) { return b.p.watch.watch(account) }

// Get serves a download from the store in pieces (store.Mailbox.Open): a
// large message is never held whole, however many devices fetch it.
func (b dmapBackend) Get(ctx context.Context, account, id string) (dmap.Change, io.ReaderAt, error) {
	c, r, err := b.p.st.Mailbox().Open(ctx, account, id)
	return toDMAPChange(c), r, dmapErr(err)
}

func (b dmapBackend) Put(ctx context.Context, account, id, kind string, expected int64, data *io.SectionReader) (dmap.Change, error) {
	c, err := b.p.st.Mailbox().Put(ctx, account, id, kind, expected, data, data.Size())
	if err == nil {
		b.p.watch.notify(account)
	}
	return toDMAPChange(c), dmapErr(err)
}

func (b dmapBackend) Delete(ctx context.Context, account, id string, expected int64) (dmap.Change, error) {
	c, err := b.p.st.Mailbox().Delete(ctx, account, id, expected, b.p.cfg.Now())
	if err == nil {
		b.p.watch.notify(account)
	}
	return toDMAPChange(c), dmapErr(err)
}
