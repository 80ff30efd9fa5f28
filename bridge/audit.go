package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/keylog"
	"umbra/signet"
)

// Audit is what the bridge found when it last checked its own address in
// its provider's transparency log (docs/spec/keylog.md §1): every signet
// the provider logged for the address must be one of the account's own
// chain, which only the account's keys can extend. A provider that
// certifies a key for the user without logging it is refused by every
// correspondent (Directory.proveLogged); one that logs it is found here.
type Audit struct {
	// Checked is how many records of the log have been read; At when.
	Checked int64     `json:"checked"`
	At      time.Time `json:"at,omitzero"`
	// Alarms are the findings, newest last: a signet for this address
	// that is not the account's, a log that does not extend what this
	// device saw, a current signet whose key is not the account's. They
	// stay until the account directory is reset.
	Alarms []string `json:"alarms,omitempty"`
	// NoLog: the provider names no transparency log; nothing to check.
	NoLog bool `json:"no_log,omitempty"`
}

// auditState names the state holding the Audit.
const auditState = "audit"

// auditInterval is how often the sync loop audits at most.
const auditInterval = time.Minute

// auditPages bounds the log pages one audit reads; a longer log is
// read over several.
const auditPages = 64

// LastAudit returns the stored result of the last audit.
func (b *Bridge) LastAudit(ctx context.Context) (Audit, error) {
	var a Audit
	raw, err := b.store.GetState(ctx, auditState)
	if errors.Is(err, mailstore.ErrNotFound) {
		return a, nil
	}
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("bridge: stored audit: %w", err)
	}
	return a, nil
}

// AuditLog checks the account's address in its provider's log: the
// checkpoint extends the newest this device saw, the current signet's key
// is the account's, and every record for the address since the last audit
// is in the account's own chain (docs/spec/signet.md §4.3). Each new
// finding is also put in the inbox, in words. It returns the result,
// which LastAudit then returns too.
func (b *Bridge) AuditLog(ctx context.Context) (Audit, error) {
	b.auditMu.Lock()
	defer b.auditMu.Unlock()
	a, err := b.LastAudit(ctx)
	if err != nil {
		return a, err
	}
	home := signet.DomainOf(b.address)
	org, _, err := b.dir.Org(ctx, home)
	if err != nil {
		return a, fmt.Errorf("audit: the organisation signet of %s: %w", home, err)
	}
	if org.LogKey == "" {
		a.NoLog, a.At = true, b.now()
		return a, b.saveAudit(ctx, a)
	}
	a.NoLog = false
	src := b.dir.homeSrc
	var found []string
	c, err := b.dir.checkpoint(ctx, src, org)
	switch {
	case errors.Is(err, ErrLogFork):
		found = append(found, err.Error())
	case err != nil:
		return a, fmt.Errorf("audit: %w", err)
	}
	mine, problem, err := b.ownChain(ctx, src)
	if err != nil {
		return a, fmt.Errorf("audit: the history of %s: %w", b.address, err)
	}
	if problem != "" {
		found = append(found, problem)
	}
	if c.Size > a.Checked {
		next, bogus, err := scanLog(ctx, src, b.address, mine, a.Checked, c.Size)
		if err != nil {
			return a, fmt.Errorf("audit: %w", err)
		}
		a.Checked = next
		for _, fp := range bogus {
			found = append(found, fmt.Sprintf("%s logged a signet for you that is not in your chain: %s", home, fp))
		}
	}
	a.At = b.now()
	for _, f := range found {
		if err := b.alarm(ctx, &a, f); err != nil {
			return a, err
		}
	}
	return a, b.saveAudit(ctx, a)
}

// alarm records a finding in a and tells the user in the inbox.
func (b *Bridge) alarm(ctx context.Context, a *Audit, finding string) error {
	b.log.Error("key log: security alarm", "finding", finding)
	a.Alarms = append(a.Alarms, finding)
	return b.alarmNotice(ctx, finding)
}

// gossipAlarm records a finding of the gossip check (Directory.Gossip)
// with the audit's.
func (b *Bridge) gossipAlarm(ctx context.Context, finding string) error {
	b.auditMu.Lock()
	defer b.auditMu.Unlock()
	a, err := b.LastAudit(ctx)
	if err != nil {
		return err
	}
	if err := b.alarm(ctx, &a, finding); err != nil {
		return err
	}
	return b.saveAudit(ctx, a)
}

func (b *Bridge) saveAudit(ctx context.Context, a Audit) error {
	if len(a.Alarms) > 32 {
		a.Alarms = a.Alarms[len(a.Alarms)-32:]
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	b.st.update(func(s *Status) { s.Audit = &a })
	return b.store.SetState(ctx, auditState, raw)
}

// ownChain fetches the account's chain of signets from its provider and
// returns the fingerprints of those that are the account's: the newest
// with the account's signing key, and each before it that it succeeds
// with a custody signature (docs/spec/signet.md §4.3), which only the
// account's keys make. problem is what is wrong with what the provider
// serves, if anything: a current signet that is not the account's.
func (b *Bridge) ownChain(ctx context.Context, src source) (mine map[signet.Fingerprint]bool, problem string, err error) {
	frames, err := src.History(ctx, b.address, signet.Fingerprint{}, signet.Fingerprint{})
	if err != nil {
		return nil, "", err
	}
	chain := make([]*signet.User, 0, len(frames))
	for _, f := range frames {
		u, err := signet.ParseUser(f)
		if err != nil {
			return nil, "", err
		}
		if u.Address != b.address {
			return nil, "", fmt.Errorf("a signet of %s in the history", u.Address)
		}
		chain = append(chain, u)
	}
	key := b.signingKey().Public()
	last := len(chain) - 1
	for last >= 0 && !chain[last].SigningKey.Equal(key) {
		last--
	}
	mine = map[signet.Fingerprint]bool{}
	if last < 0 {
		return mine, fmt.Sprintf("no signet %s serves for you has your signing key", signet.DomainOf(b.address)), nil
	}
	mine[chain[last].Fingerprint()] = true
	b.st.update(func(s *Status) { s.Fingerprint = chain[last].Fingerprint().String() })
	for i := last; i > 0 && signet.VerifyChain(chain[i-1], chain[i]) == nil; i-- {
		mine[chain[i-1].Fingerprint()] = true
	}
	if last != len(chain)-1 {
		// Another device may have rotated the account's keys since the
		// last pull: its keyring document says so (keyring.go).
		if took, err := b.fetchKeyring(ctx); err != nil {
			return nil, "", err
		} else if took {
			return b.ownChain(ctx, src)
		}
		problem = fmt.Sprintf("%s serves a current signet for you (%s) that is not yours: it does not succeed your key",
			signet.DomainOf(b.address), chain[len(chain)-1].Fingerprint())
	}
	return mine, problem, nil
}

// scanLog reads the log's records from start to size (at most auditPages
// pages) and returns where it stopped and the fingerprints of the signets
// for address that are not in mine.
func scanLog(ctx context.Context, src source, address string, mine map[signet.Fingerprint]bool, start, size int64) (int64, []signet.Fingerprint, error) {
	var bogus []signet.Fingerprint
	for page := 0; start < size && page < auditPages; page++ {
		raw, err := src.Log(ctx, keylog.Query{Op: keylog.OpRecords, A: start, B: min(keylog.MaxRecordsPerQuery, size-start)}.String())
		if err != nil {
			return start, bogus, fmt.Errorf("log records from %d: %w", start, err)
		}
		recs, err := keylog.DecodeRecords(raw)
		if err != nil {
			return start, bogus, err
		}
		for _, r := range recs {
			// Records are signets the provider signed; one that does not
			// parse as a user signet is not this address's.
			if u, err := signet.ParseUser(r); err == nil && u.Address == address && !mine[u.Fingerprint()] {
				bogus = append(bogus, u.Fingerprint())
			}
		}
		start += int64(len(recs))
	}
	return start, bogus, nil
}

// alarmNotice puts a finding of the audit in the inbox.
func (b *Bridge) alarmNotice(ctx context.Context, finding string) error {
	body := fmt.Sprintf("Your bridge checks your provider's transparency log for keys made in your name.\r\n\r\n"+
		"It found this:\r\n\r\n  %s\r\n\r\n"+
		"Someone — your provider, or whoever controls it — may be showing others a key that is not yours,\r\n"+
		"so that they seal mail for you that someone else can read. Tell the people you write to; check\r\n"+
		"the fingerprint of your key with them (umbra keys audit shows what was found).\r\n", finding)
	_, _, err := b.store.Add(ctx, mailstore.NewMessage{
		Key: syncdoc.NewKey(), Mailbox: mailstore.Inbox,
		MIME: noticeMIME("Security alarm: a key in your name that is not yours", body),
	}, mailstore.Local)
	return err
}
