package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/dnsrec"
	"umbra/signet"
)

// The anchor levels of an organisation signet, strongest first (DESIGN
// §4). LevelChanged (contacts.go) and a downgrade warning qualify them.
const (
	// LevelDNSSEC: LevelChained, and the resolver validated the _dime
	// answer with DNSSEC (its AD bit, docs/spec/dns.md §5.4).
	LevelDNSSEC = "chained+dnssec"
	// LevelChained: the user signet is certified by its organisation
	// signet, and that organisation signet is the one the domain's _dime
	// record names (docs/spec/signet.md §5, docs/spec/dns.md): a chain from
	// DNS to the key.
	LevelChained = "chained"
	// LevelProvider: certified by an organisation signet that DNS could not
	// confirm (no resolver, or the look-up failed); the provider vouches.
	LevelProvider = "provider"
)

// rank orders the anchor levels; higher is stronger.
func rank(level string) int {
	switch level {
	case LevelDNSSEC:
		return 2
	case LevelChained:
		return 1
	}
	return 0
}

// Downgrade warnings: why a domain's anchor is weaker than this device saw
// before. The trust shown is then the last good one, and mail to the
// domain is held (never sent on weaker grounds without the user).
const (
	WarnRecordGone = "dime-record-gone" // the _dime record vanished
	WarnDNSSECLost = "dnssec-lost"      // the record is there, no longer validated
	WarnDNSFailed  = "dns-failed"       // the look-up fails (SERVFAIL, bogus, timeout)
	WarnUnreached  = "unreachable"      // the domain's signets cannot be fetched now
)

// Trust is the Directory's verdict on a signet.
type Trust struct {
	Level string
	// Warning, if set, says the domain's anchor is weaker now than the
	// Level this device saw before, which is kept (never lowered silently).
	Warning string
}

// String is the verdict's form in the Umbra-Security header.
func (t Trust) String() string {
	if t.Warning == "" {
		return t.Level
	}
	return t.Level + "; warning=" + t.Warning
}

// anchorMemory is what the device remembers of a domain's anchor: the best
// level it saw, when, and for how long the domain promised to stay dark
// (its record's exp=).
type anchorMemory struct {
	Best    string    `json:"best"`
	Seen    time.Time `json:"seen"`
	ExpDays int       `json:"exp_days"`
	Warned  string    `json:"warned,omitempty"` // the warning the user was last told of
}

func anchorState(domain string) string { return "anchor:" + domain }
func orgState(domain string) string    { return "org:" + domain }
func signetState(fp signet.Fingerprint) string {
	return "signet:" + fp.String()
}

// memory keeps the Directory's knowledge in the local store (encrypted at
// rest), so that a restart neither forgets a domain's anchor nor asks
// again for a signet it verified (each look-up tells the other domain
// that someone at the user's provider is interested).
type memory struct {
	st stateStore // nil: nothing is kept
	mu sync.Mutex
}

func (m *memory) get(ctx context.Context, name string) ([]byte, error) {
	if m.st == nil {
		return nil, mailstore.ErrNotFound
	}
	return m.st.GetState(ctx, name)
}

func (m *memory) put(ctx context.Context, name string, v []byte) error {
	if m.st == nil {
		return nil
	}
	return m.st.SetState(ctx, name, v)
}

func (m *memory) anchor(ctx context.Context, domain string) (anchorMemory, bool, error) {
	var a anchorMemory
	raw, err := m.get(ctx, anchorState(domain))
	if errors.Is(err, mailstore.ErrNotFound) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, false, fmt.Errorf("the remembered anchor of %s: %w", domain, err)
	}
	return a, true, nil
}

func (m *memory) setAnchor(ctx context.Context, domain string, a anchorMemory) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return m.put(ctx, anchorState(domain), raw)
}

// inForce reports whether a remembered anchor still binds: the domain
// promised, with exp=, to stay dark that long after it was last seen.
func (a anchorMemory) inForce(now time.Time) bool {
	return rank(a.Best) > 0 && now.Before(a.Seen.Add(time.Duration(max(a.ExpDays, dnsrec.MinExpDays))*24*time.Hour))
}

// judge combines the level DNS gives now with what the device remembers
// of domain: a level at least as strong is remembered and returned; a
// weaker one, while the remembered one is in force, gives the remembered
// level with a warning, and tells the user once (onDowngrade) unless the
// domain is only unreachable.
func (d *Directory) judge(ctx context.Context, domain, now, warning string, expDays int) (Trust, error) {
	d.mem.mu.Lock()
	defer d.mem.mu.Unlock()
	mem, ok, err := d.mem.anchor(ctx, domain)
	if err != nil {
		return Trust{}, err
	}
	t := d.now()
	if !ok || rank(now) >= rank(mem.Best) || !mem.inForce(t) {
		if rank(now) > 0 {
			err = d.mem.setAnchor(ctx, domain, anchorMemory{Best: now, Seen: t, ExpDays: expDays})
		}
		return Trust{Level: now}, err
	}
	if warning == "" {
		warning = WarnDNSSECLost
	}
	if mem.Warned != warning {
		mem.Warned = warning
		if err := d.mem.setAnchor(ctx, domain, mem); err != nil {
			return Trust{}, err
		}
		// A domain whose keys cannot be fetched now (its server or the
		// user's provider is down: a restart, a failed node) gains an
		// attacker nothing — mail to it waits, mail from it keeps the
		// trust it had — and is not worth a security warning in the
		// inbox each time; a weaker anchor is.
		if d.onDowngrade != nil && warning != WarnUnreached {
			if err := d.onDowngrade(ctx, domain, warning, mem); err != nil {
				return Trust{}, err
			}
		}
	}
	return Trust{Level: mem.Best, Warning: warning}, nil
}

// warningFor names a failed _dime look-up.
func warningFor(err error) string {
	if errors.Is(err, dnsrec.ErrNoRecord) {
		return WarnRecordGone
	}
	return WarnDNSFailed
}

// downgradeNotice tells the user, in the inbox, that a domain's keys can no
// longer be checked as well as before.
func (b *Bridge) downgradeNotice(ctx context.Context, domain, warning string, was anchorMemory) error {
	what := map[string]string{
		WarnRecordGone: "its DNS record (_dime." + domain + "), which vouches for its keys, is gone",
		WarnDNSSECLost: "its DNS record (_dime." + domain + ") is no longer protected by DNSSEC",
		WarnDNSFailed:  "its DNS record (_dime." + domain + ") cannot be looked up",
	}[warning]
	body := fmt.Sprintf("Your bridge can no longer check the keys of %s as well as before: %s.\r\n\r\n"+
		"On %s it saw them %s. Until that holds again, mail from %s is shown with the trust it had then\r\n"+
		"and a warning, and mail to %s waits in your outbox: someone may be trying to make your bridge\r\n"+
		"accept other keys. If the domain's operator meant it, the mail goes once the domain's record is back,\r\n"+
		"or after %d days, when the domain's promise to stay dark ends.\r\n",
		domain, what, was.Seen.Format(time.DateOnly), was.Best, domain, domain, max(was.ExpDays, dnsrec.MinExpDays))
	b.log.Warn("key anchor downgrade", "domain", domain, "warning", warning, "kept", was.Best)
	_, _, err := b.store.Add(ctx, mailstore.NewMessage{
		Key: syncdoc.NewKey(), Mailbox: mailstore.Inbox,
		MIME: noticeMIME("Security warning: the keys of "+domain+" cannot be checked as before", body),
	}, mailstore.Local)
	return err
}
