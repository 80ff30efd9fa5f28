package dmap

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"umbra/signet"
)

// fakeBackend is an in-memory Backend for the protocol tests. It enforces
// what the interface promises (single-use invitations and challenges,
// revocation, revisions, per-account isolation) with real signets, so the
// tests exercise the handler's mapping of each outcome. The provider-backed
// Backend is tested end to end elsewhere.
type fakeBackend struct {
	org *signet.Org
	sok ed25519.PrivateKey

	mu         sync.Mutex
	invites    map[string]string // address → unused invitation code
	accounts   map[string]*fakeAccount
	challenges map[[32]byte]Challenge
	byAccess   map[[32]byte]*Session
	byRefresh  map[[32]byte]*Session
	remote     map[string][]byte // other domains' signets by name
	tunnelTo   map[string]string // other domains' DMTP addresses for Tunnel
	sent       []fakeSent
	watchers   map[string]map[int]chan struct{}
	nextWatch  int
}

type fakeAccount struct {
	mode    Mode
	chain   [][]byte // encoded signets, oldest first
	devices map[string]*Device
	revoked map[string]bool
	backup  *KeyBackup
	seq     int64
	docs    map[string]*Document
}

type fakeSent struct {
	account string
	msg     []byte
}

func newFakeBackend(org *signet.Org, sok ed25519.PrivateKey) *fakeBackend {
	return &fakeBackend{
		org: org, sok: sok,
		invites:    map[string]string{},
		accounts:   map[string]*fakeAccount{},
		challenges: map[[32]byte]Challenge{},
		byAccess:   map[[32]byte]*Session{},
		byRefresh:  map[[32]byte]*Session{},
		remote:     map[string][]byte{},
		tunnelTo:   map[string]string{},
		watchers:   map[string]map[int]chan struct{}{},
	}
}

func (f *fakeBackend) invite(address, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invites[address] = code
}

// active returns address's account; the caller holds f.mu.
func (f *fakeBackend) active(address string) (*fakeAccount, error) {
	a, ok := f.accounts[address]
	if !ok {
		return nil, fmt.Errorf("fake: %s: %w", address, ErrNotFound)
	}
	return a, nil
}

func (f *fakeBackend) Register(_ context.Context, r Registration) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	code, ok := f.invites[r.Address]
	if !ok || code != r.Invite {
		return nil, ErrInvite
	}
	u, err := signet.Certify(r.Request, f.org, f.sok)
	if err != nil {
		return nil, ErrBadSignet.With("%v", err)
	}
	delete(f.invites, r.Address)
	d := r.Device
	f.accounts[r.Address] = &fakeAccount{
		mode: r.Mode, chain: [][]byte{u.Bytes()}, backup: r.Backup,
		devices: map[string]*Device{d.ID: &d}, revoked: map[string]bool{},
		docs: map[string]*Document{},
	}
	return u.Bytes(), nil
}

func (f *fakeBackend) Rotate(_ context.Context, account string, req *signet.User) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(account)
	if err != nil {
		return nil, err
	}
	prev, err := signet.ParseUser(a.chain[len(a.chain)-1])
	if err != nil {
		return nil, err
	}
	if err := signet.VerifyChain(prev, req); err != nil {
		return nil, ErrBadSignet.With("%v", err)
	}
	u, err := signet.Certify(req, f.org, f.sok)
	if err != nil {
		return nil, ErrBadSignet.With("%v", err)
	}
	a.chain = append(a.chain, u.Bytes())
	return u.Bytes(), nil
}

func (f *fakeBackend) Signet(_ context.Context, name string, fp signet.Fingerprint) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch name {
	case f.org.Domain:
		return f.org.Bytes(), nil
	case "boom.test":
		return nil, errFake // an unexpected failure: answered 500 without detail
	}
	a, ok := f.accounts[name]
	if !ok {
		if s, ok := f.remote[name]; ok && (fp.IsZero() || signet.FingerprintOf(s) == fp) {
			return s, nil
		}
		return nil, ErrNotFound
	}
	if fp.IsZero() {
		return a.chain[len(a.chain)-1], nil
	}
	for _, s := range a.chain {
		if signet.FingerprintOf(s) == fp {
			return s, nil
		}
	}
	return nil, ErrNotFound
}

func (f *fakeBackend) History(_ context.Context, address string, start, stop signet.Fingerprint) ([][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(address)
	if err != nil {
		return nil, err
	}
	i, j := 0, len(a.chain)-1
	for k, s := range a.chain {
		fp := signet.FingerprintOf(s)
		if fp == start {
			i = k
		}
		if fp == stop {
			j = k
		}
	}
	return slices.Clone(a.chain[i : j+1]), nil
}

func (f *fakeBackend) Device(_ context.Context, address string, key ed25519.PublicKey) (Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(address)
	if err != nil {
		return Device{}, err
	}
	d, ok := a.devices[DeviceID(key)]
	if !ok || a.revoked[d.ID] || !d.Key.Equal(key) {
		return Device{}, ErrNotFound
	}
	return *d, nil
}

func (f *fakeBackend) AddDevice(_ context.Context, address string, d Device) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(address)
	if err != nil {
		return err
	}
	if _, ok := a.devices[d.ID]; ok {
		return ErrExists
	}
	a.devices[d.ID] = &d
	return nil
}

func (f *fakeBackend) Devices(_ context.Context, account string) ([]Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(account)
	if err != nil {
		return nil, err
	}
	var out []Device
	for id, d := range a.devices {
		if !a.revoked[id] {
			out = append(out, *d)
		}
	}
	slices.SortFunc(out, func(x, y Device) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

// device returns one of account's unrevoked devices; f.mu is held.
func (f *fakeBackend) device(account, id string) (*fakeAccount, *Device, error) {
	a, err := f.active(account)
	if err != nil {
		return nil, nil, err
	}
	d, ok := a.devices[id]
	if !ok || a.revoked[id] {
		return nil, nil, ErrNotFound
	}
	return a, d, nil
}

func (f *fakeBackend) RenameDevice(_ context.Context, account, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, d, err := f.device(account, id)
	if err == nil {
		d.Name = name
	}
	return err
}

func (f *fakeBackend) RevokeDevice(_ context.Context, account, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.device(account, id)
	if err == nil {
		a.revoked[id] = true
	}
	return err
}

func (f *fakeBackend) KeyBackup(_ context.Context, address string) (KeyBackup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.accounts[address]
	if !ok || a.mode != ModeCautious || a.backup == nil {
		return KeyBackup{}, ErrNotFound
	}
	return *a.backup, nil
}

func (f *fakeBackend) SetKeyBackup(_ context.Context, account string, kb KeyBackup) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(account)
	if err != nil {
		return err
	}
	if a.mode != ModeCautious {
		return ErrWrongMode
	}
	a.backup = &kb
	return nil
}

// Send accepts any message but those starting "bad" (ErrBadMessage) and
// "from:<someone else>" (ErrNotAuthor); "local" ones count as delivered.
func (f *fakeBackend) Send(_ context.Context, account string, body *io.SectionReader) (Sent, error) {
	msg, err := io.ReadAll(body)
	if err != nil {
		return Sent{}, err
	}
	if bytes.HasPrefix(msg, []byte("bad")) {
		return Sent{}, ErrBadMessage
	}
	if from, ok := bytes.CutPrefix(msg, []byte("from:")); ok && !bytes.HasPrefix(from, []byte(account+"\n")) {
		return Sent{}, ErrNotAuthor
	}
	f.mu.Lock()
	f.sent = append(f.sent, fakeSent{account, msg})
	f.mu.Unlock()
	return Sent{Digest: sha256.Sum256(msg), Delivered: bytes.HasPrefix(msg, []byte("local"))}, nil
}

// SendLegacy refuses recipients at dark.test (ErrDarkMail) and records
// the rest, prefixed with their recipient.
func (f *fakeBackend) SendLegacy(_ context.Context, account, rcpt string, body *io.SectionReader) (Sent, error) {
	msg, err := io.ReadAll(body)
	if err != nil {
		return Sent{}, err
	}
	if strings.HasSuffix(rcpt, "@dark.test") {
		return Sent{}, ErrDarkMail
	}
	f.mu.Lock()
	f.sent = append(f.sent, fakeSent{account, append([]byte(rcpt+"\n"), msg...)})
	f.mu.Unlock()
	return Sent{Digest: sha256.Sum256(msg)}, nil
}

func (f *fakeBackend) PutChallenge(_ context.Context, c Challenge) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.challenges[c.Value] = c
	return nil
}

func (f *fakeBackend) TakeChallenge(_ context.Context, v [32]byte) (Challenge, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.challenges[v]
	if !ok {
		return Challenge{}, ErrNotFound
	}
	delete(f.challenges, v)
	return c, nil
}

func (f *fakeBackend) CreateSession(_ context.Context, s Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byAccess[s.AccessHash] = &s
	f.byRefresh[s.RefreshHash] = &s
	return nil
}

// live reports whether s's device is still an unrevoked device; f.mu is
// held.
func (f *fakeBackend) live(s *Session) bool {
	_, _, err := f.device(s.Account, s.DeviceID)
	return err == nil
}

func (f *fakeBackend) Authenticate(_ context.Context, h [32]byte) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byAccess[h]
	if !ok || !f.live(s) {
		return Session{}, ErrUnauthorized
	}
	_, d, _ := f.device(s.Account, s.DeviceID)
	d.LastSeen = time.Now()
	return *s, nil
}

func (f *fakeBackend) Refresh(_ context.Context, old [32]byte, next Session) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byRefresh[old]
	if !ok || !f.live(s) || !s.RefreshExpires.After(next.Issued) {
		return Session{}, ErrUnauthorized
	}
	delete(f.byRefresh, old)
	delete(f.byAccess, s.AccessHash)
	next.Account, next.DeviceID = s.Account, s.DeviceID
	f.byAccess[next.AccessHash] = &next
	f.byRefresh[next.RefreshHash] = &next
	return next, nil
}

func (f *fakeBackend) Changes(_ context.Context, account string, since int64, limit int) ([]Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(account)
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, d := range a.docs {
		if d.Seq > since {
			out = append(out, d.Change)
		}
	}
	slices.SortFunc(out, func(x, y Change) int { return int(x.Seq - y.Seq) })
	return out[:min(len(out), limit)], nil
}

func (f *fakeBackend) Head(_ context.Context, account string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(account)
	if err != nil {
		return 0, err
	}
	return a.seq, nil
}

func (f *fakeBackend) Watch(account string) (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{}, 1)
	n := f.nextWatch
	f.nextWatch++
	if f.watchers[account] == nil {
		f.watchers[account] = map[int]chan struct{}{}
	}
	f.watchers[account][n] = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.watchers[account], n)
	}
}

// notify wakes account's watchers; f.mu is held.
func (f *fakeBackend) notify(account string) {
	for _, ch := range f.watchers[account] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (f *fakeBackend) Get(_ context.Context, account, id string) (Change, io.ReaderAt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(account)
	if err != nil {
		return Change{}, nil, err
	}
	d, ok := a.docs[id]
	if !ok {
		return Change{}, nil, ErrNotFound
	}
	if d.Deleted {
		return d.Change, nil, nil
	}
	return d.Change, bytes.NewReader(d.Data), nil
}

func (f *fakeBackend) Put(_ context.Context, account, id, kind string, expected int64, body *io.SectionReader) (Change, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return Change{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(account)
	if err != nil {
		return Change{}, err
	}
	var cur int64
	if d, ok := a.docs[id]; ok {
		cur = d.Revision
	}
	if expected != cur {
		return Change{}, Conflict(cur)
	}
	a.seq++
	d := &Document{Change: Change{ID: id, Kind: kind, Revision: cur + 1, Seq: a.seq, Size: int64(len(data))}, Data: bytes.Clone(data)}
	a.docs[id] = d
	f.notify(account)
	return d.Change, nil
}

func (f *fakeBackend) Delete(_ context.Context, account, id string, expected int64) (Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.active(account)
	if err != nil {
		return Change{}, err
	}
	d, ok := a.docs[id]
	if !ok || d.Deleted {
		return Change{}, ErrNotFound
	}
	if d.Revision != expected {
		return Change{}, Conflict(d.Revision)
	}
	a.seq++
	d.Revision++
	d.Seq, d.Deleted, d.Size, d.Data = a.seq, true, 0, nil
	f.notify(account)
	return d.Change, nil
}

// deliver stores a mail document as the provider's DMTP side would.
func (f *fakeBackend) deliver(account string, data []byte) (Change, error) {
	f.mu.Lock()
	n := len(f.accounts[account].docs)
	f.mu.Unlock()
	return f.Put(context.Background(), account, fmt.Sprintf("mail-%d", n), "mail", 0, io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))))
}

// docCount counts account's documents, tombstones included.
func (f *fakeBackend) docCount(account string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.accounts[account].docs)
}

var _ Backend = (*fakeBackend)(nil)

func (f *fakeBackend) Log(ctx context.Context, query string) ([]byte, error) {
	if query != "CHECKPOINT" {
		return nil, fmt.Errorf("fake: log query %q: %w", query, ErrBadField)
	}
	return []byte("umbra-keylog/a.test\n0\n"), nil
}

func (f *fakeBackend) Tunnel(ctx context.Context, account, domain string) (net.Conn, error) {
	f.mu.Lock()
	addr, ok := f.tunnelTo[domain]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("fake: tunnel to %s: %w", domain, ErrNotFound)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

var errFake = errors.New("fake: secret internal detail")
