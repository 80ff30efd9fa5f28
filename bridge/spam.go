package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"umbra/bridge/mailstore"
	"umbra/bridge/syncdoc"
	"umbra/mailtext"
	"umbra/spam"
)

// Header fields only the bridge writes (docs/spec/spam.md). setFields
// drops a sender's copies of them before adding the bridge's.
const (
	SpamHeader  = "X-Umbra-Spam"
	RiskyHeader = "X-Umbra-Risky-Attachment"
)

// bridgeFields are every field the bridge owns in a message it serves.
var bridgeFields = []string{SecurityHeader, SpamHeader, RiskyHeader}

const (
	// spamMinTrained: until the model has been trained on at least this
	// many spam and this many ham messages, scores are reported but
	// nothing is moved to Junk — a model of a handful of messages is
	// confidently wrong too often.
	spamMinTrained = 10
	// spamDarkCutoff is the score from which dark mail goes to Junk. Its
	// author signed it with a key the bridge validated, so its sender is
	// known and accountable: only an extreme score moves it.
	spamDarkCutoff = 0.9999
	// spamMaxTokens bounds the tokens of this device's training; rarer
	// ones are pruned beyond it (spam.Prune).
	spamMaxTokens = 300_000
)

// spamParams are the scoring parameters: bogofilter's defaults, which
// spam/accuracy_test.go measures.
var spamParams = spam.DefaultParams

// spamLimits bound the analysis of one message for the filter.
var spamLimits = mailtext.Limits{MaxSize: 32 << 20, MaxText: 4 << 20}

// spamFilter is the account's spam filter: this device's training and the
// other devices' (their spam documents), and the model they sum to.
type spamFilter struct {
	mu    sync.Mutex
	plus  *spam.Model // what this device trained
	minus *spam.Model // what this device took back
	// own: this device's entries of the ledger (spamjudge.go), by key.
	own    map[string]syncdoc.SpamEntry
	others map[string]*spamCounts // other devices' documents by id
	model  atomic.Pointer[spam.Model]
	// dirty: this device's counts changed since they were last pushed.
	dirty atomic.Bool
	// changed: this device's counts or entries changed since they were
	// last saved; stale: another device's document came since the
	// ledger was last reconciled (spamjudge.go).
	changed, stale atomic.Bool
	// queue carries training work from the store's event callback to
	// the trainer (spamtrain.go).
	queue   chan trainJob
	dropped atomic.Int64 // jobs the full queue refused
}

// spamCounts are one device's two halves and its entries of the ledger.
type spamCounts struct {
	device      string
	plus, minus *spam.Model
	entries     map[string]syncdoc.SpamEntry
}

// combine recomputes the scoring model; the caller holds f.mu.
func (f *spamFilter) combine() {
	plus, minus := []*spam.Model{f.plus}, []*spam.Model{f.minus}
	for _, c := range f.others {
		plus, minus = append(plus, c.plus), append(minus, c.minus)
	}
	f.model.Store(spam.Combine(plus, minus))
}

// SpamStatus is what `umbra spam status` shows.
type SpamStatus struct {
	Spam           int     `json:"spam"`            // spam messages the summed model was trained on
	Ham            int     `json:"ham"`             // ham messages likewise
	Tokens         int     `json:"tokens"`          // distinct tokens in it
	Devices        int     `json:"devices"`         // devices whose training it sums, this one included
	Threshold      float64 `json:"threshold"`       // score from which legacy mail goes to Junk
	DarkThreshold  float64 `json:"dark_threshold"`  // the same for dark mail
	MinTrained     int     `json:"min_trained"`     // spam and ham needed before anything moves
	Active         bool    `json:"active"`          // trained enough to move mail
	DroppedUpdates int64   `json:"dropped_updates"` // training events lost to a full queue since start
}

// SpamStatus reports the filter's state.
func (b *Bridge) SpamStatus() SpamStatus {
	m := b.spam.model.Load()
	s, h := m.Messages()
	b.spam.mu.Lock()
	devices := 1 + len(b.spam.others)
	b.spam.mu.Unlock()
	return SpamStatus{
		Spam: s, Ham: h, Tokens: m.Len(), Devices: devices,
		Threshold: spamParams.SpamCutoff, DarkThreshold: spamDarkCutoff, MinTrained: spamMinTrained,
		Active: s >= spamMinTrained && h >= spamMinTrained, DroppedUpdates: b.spam.dropped.Load(),
	}
}

// screen is what the bridge does to a delivered message after opening it
// and before storing it: safe HTML (safehtml.go), the spam score, the
// risky-attachment mark. It returns the message to store, with the
// bridge's fields, and the mailbox it goes to. A message the analysis
// cannot read is stored as it is, marked unscored: screening never holds
// mail back.
func (b *Bridge) screen(ctx context.Context, mime []byte) ([]byte, string, error) {
	verdict := verdictOf(mime)
	dark := strings.HasPrefix(verdict, "encrypted;")
	if b.safeHTMLFor(dark) {
		clean, changed, err := sanitizeMessage(mime)
		if err != nil {
			// A sender's malformed message, not the bridge's fault.
			b.log.Info("safe html: unreadable part relabelled text/plain", "err", err)
		}
		if changed {
			mime = clean
		}
	}
	fields := []string{SecurityHeader, verdict}
	mailbox := mailstore.Inbox
	an, err := mailtext.Analyze(mime, spamLimits)
	if err != nil {
		fields = append(fields, SpamHeader, "unsure; not scored: "+err.Error())
		return setFields(mime, bridgeFields, fields...), mailbox, nil
	}
	m := b.spam.model.Load()
	v, score := m.Classify(an.Tokens(), spamParams)
	nSpam, nHam := m.Messages()
	value := fmt.Sprintf("%s; score=%.4f", spamWord(v), score)
	if nSpam < spamMinTrained || nHam < spamMinTrained {
		value += fmt.Sprintf("; learning (trained on %d spam, %d ham)", nSpam, nHam)
	}
	if toJunk(v, score, nSpam, nHam, dark) {
		if mailbox, err = b.junkMailbox(ctx); err != nil {
			return nil, "", err
		}
	}
	fields = append(fields, SpamHeader, value)
	if risky := riskyAttachments(an.Attachments); risky != "" {
		fields = append(fields, RiskyHeader, risky)
	}
	return setFields(mime, bridgeFields, fields...), mailbox, nil
}

// toJunk is the rule of docs/spec/spam.md §1: spam goes to Junk once the
// model is trained on spamMinTrained of each class, dark mail only from
// spamDarkCutoff on.
func toJunk(v spam.Verdict, score float64, nSpam, nHam int, dark bool) bool {
	return v == spam.Spam && nSpam >= spamMinTrained && nHam >= spamMinTrained && (!dark || score >= spamDarkCutoff)
}

func spamWord(v spam.Verdict) string {
	switch v {
	case spam.Spam:
		return "yes"
	case spam.Ham:
		return "no"
	}
	return "unsure"
}

// junkMailbox is the name of the mailbox with the \Junk special use
// (RFC 6154), INBOX when the user deleted it.
func (b *Bridge) junkMailbox(ctx context.Context) (string, error) {
	boxes, err := b.store.Mailboxes(ctx)
	if err != nil {
		return "", fmt.Errorf("spam: find Junk: %w", err)
	}
	for _, mb := range boxes {
		if mb.SpecialUse == mailstore.Junk {
			return mb.Name, nil
		}
	}
	return mailstore.Inbox, nil
}

// loadSpam reads this device's training and the other devices' documents
// from the store.
func (b *Bridge) loadSpam(ctx context.Context) error {
	f := &spamFilter{plus: spam.New(), minus: spam.New(), own: map[string]syncdoc.SpamEntry{}, others: map[string]*spamCounts{}, queue: make(chan trainJob, trainQueue)}
	b.spam = f
	own, err := getBlob(ctx, b.store, spamOwnState)
	switch {
	case errors.Is(err, mailstore.ErrNotFound):
	case err != nil:
		return err
	default:
		c, _, err := decodeSpamDoc(own)
		if err != nil {
			return fmt.Errorf("bridge: spam: this device's training: %w", err)
		}
		f.plus, f.minus, f.own = c.plus, c.minus, c.entries
	}
	if err := b.legacyRecords(ctx); err != nil {
		return err
	}
	ids, err := b.store.GetState(ctx, spamDocsState)
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return fmt.Errorf("bridge: spam: %w", err)
	}
	for _, id := range strings.Fields(string(ids)) {
		plain, err := getBlob(ctx, b.store, spamDocState+id)
		if err != nil {
			return err
		}
		c, _, err := decodeSpamDoc(plain)
		if err != nil {
			return fmt.Errorf("bridge: spam: document %s: %w", id, err)
		}
		f.others[id] = c
	}
	// Training saved but not pushed before the last stop goes up now.
	pushed, err := b.store.GetState(ctx, spamPushState)
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return fmt.Errorf("bridge: spam: %w", err)
	}
	f.dirty.Store(string(pushed) == "0")
	// Documents applied before a stop may still want settling.
	f.stale.Store(true)
	f.combine()
	return nil
}

// decodeSpamDoc reads a spam document's plaintext.
func decodeSpamDoc(plain []byte) (*spamCounts, *syncdoc.Spam, error) {
	d, err := syncdoc.ParseSpam(plain)
	if err != nil {
		return nil, nil, err
	}
	c := &spamCounts{device: d.Device, plus: spam.New(), minus: spam.New(), entries: make(map[string]syncdoc.SpamEntry, len(d.Entries))}
	if err := c.plus.UnmarshalBinary(d.Plus); err != nil {
		return nil, nil, err
	}
	if err := c.minus.UnmarshalBinary(d.Minus); err != nil {
		return nil, nil, err
	}
	for _, e := range d.Entries {
		c.entries[e.Key] = e
	}
	return c, d, nil
}

// ClassifySpam scores a message with the account's model as screen
// would: the verdict ("yes", "no", "unsure") and the score.
func (b *Bridge) ClassifySpam(mime []byte) (string, float64) {
	an, err := mailtext.Analyze(mime, spamLimits)
	if err != nil {
		return "unsure", spamParams.RobX
	}
	v, score := b.spam.model.Load().Classify(an.Tokens(), spamParams)
	return spamWord(v), score
}
