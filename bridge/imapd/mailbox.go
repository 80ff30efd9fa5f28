package imapd

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/imapserver"
	"umbra/bridge/mailstore"
)

// mailbox is the in-memory view of one store mailbox shared by the
// sessions that selected it: the UID list that turns UIDs into sequence
// numbers, and the imapserver.MailboxTracker that tells each session about
// changes in the order RFC 9051 §7.5.1 requires (expunges reported to each
// session, its sequence numbers stable in between).
//
// It is fed by store events (Server.onEvent). mu guards everything below
// it and is a leaf lock: it is never held while calling the store. Every
// tracker call (Queue*, NewSession, Encode/DecodeSeqNum) is made under mu,
// which also keeps the tracker's message count in step with msgs.
type mailbox struct {
	id    int64
	ready chan struct{} // closed once load has returned
	// loadErr is written before ready is closed and only read after.
	loadErr error
	refs    int // guarded by Server.mu

	mu         sync.Mutex
	loading    bool              // events go to pending until the listing is in
	pending    []mailstore.Event // events committed while loading
	msgs       []*message        // in UID order, so msgs[i] has sequence number i+1
	incomplete int               // entries of msgs without details
	tracker    *imapserver.MailboxTracker
	views      map[*view]struct{}
	// keywords are the keywords seen on the mailbox's messages since it
	// was loaded, sorted: what the FLAGS response lists besides the
	// system flags. It only grows, as in Dovecot.
	keywords []string
	// firstRecent is the first UID no session has claimed as \Recent
	// (recent.go).
	firstRecent uint32
	savedRecent uint32 // the firstRecent the store has
	// highestModSeq is the highest mod-sequence the events carried
	// (RFC 7162; condstore.go).
	highestModSeq uint64
}

// message is one message of a mailbox. Sessions copy it under mailbox.mu;
// flags is replaced, never modified in place, so copies stay valid.
type message struct {
	uid    uint32
	flags  []string
	modseq uint64 // RFC 7162
	// The details below come from the store's listing. A message announced
	// by an event has none until the next fill or ensureDetails.
	loaded    bool
	id        int64
	contentID int64
	size      int64
	date      time.Time
}

func newMailbox(id int64) *mailbox {
	return &mailbox{
		id:      id,
		ready:   make(chan struct{}),
		loading: true,
		views:   make(map[*view]struct{}),
	}
}

func messageOf(m mailstore.Message) *message {
	return &message{
		uid:       m.UID,
		flags:     slices.Clone(m.Flags),
		modseq:    m.ModSeq,
		loaded:    true,
		id:        m.ID,
		contentID: m.ContentID,
		size:      m.Size,
		date:      m.InternalDate,
	}
}

// load lists the mailbox and replays the events committed since it was
// registered. Replaying is idempotent against the listing: an added UID
// already listed only refreshes flags, an expunged UID not listed is
// ignored, and later events come later in commit order.
func (b *mailbox) load(ctx context.Context, st *mailstore.Store) error {
	first, err := loadFirstRecent(ctx, st, b.id)
	if err != nil {
		return fmt.Errorf("imapd: recent of mailbox %d: %w", b.id, err)
	}
	list, err := st.List(ctx, b.id)
	if err != nil {
		return fmt.Errorf("imapd: list mailbox %d: %w", b.id, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.firstRecent, b.savedRecent = first, first
	b.msgs = make([]*message, 0, len(list))
	for _, m := range list {
		b.msgs = append(b.msgs, messageOf(m))
		b.noteKeywordsLocked(m.Flags)
		b.highestModSeq = max(b.highestModSeq, m.ModSeq)
	}
	for _, ev := range b.pending {
		b.applyLocked(ev)
	}
	b.pending = nil
	b.loading = false
	b.tracker = imapserver.NewMailboxTracker(uint32(len(b.msgs)))
	return nil
}

// apply records one committed store event and queues it for the sessions.
func (b *mailbox) apply(ev mailstore.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.loading {
		b.pending = append(b.pending, ev)
		return
	}
	b.applyLocked(ev)
	for v := range b.views {
		v.wake()
	}
}

func (b *mailbox) applyLocked(ev mailstore.Event) {
	b.highestModSeq = max(b.highestModSeq, ev.ModSeq)
	i, found := b.find(ev.UID)
	switch ev.Kind {
	case mailstore.MessageAdded:
		b.noteKeywordsLocked(ev.Flags)
		if found {
			b.setFlagsLocked(i, ev)
			return
		}
		// The store hands out UIDs in increasing order (RFC 9051 §2.3.1.1),
		// so i is the end of the list: the new message gets the next
		// sequence number.
		b.msgs = slices.Insert(b.msgs, i, &message{uid: ev.UID, flags: slices.Clone(ev.Flags), modseq: ev.ModSeq})
		b.incomplete++
		b.arrivedLocked(ev.UID)
		if b.tracker != nil {
			b.tracker.QueueNumMessages(uint32(len(b.msgs)))
		}
	case mailstore.MessageExpunged:
		if !found {
			return
		}
		if !b.msgs[i].loaded {
			b.incomplete--
		}
		b.msgs = slices.Delete(b.msgs, i, i+1)
		b.goneLocked(ev.UID)
		if b.tracker != nil {
			b.tracker.QueueExpunge(uint32(i)+1, imap.UID(ev.UID), ev.ModSeq)
		}
	case mailstore.FlagsChanged:
		b.noteKeywordsLocked(ev.Flags)
		if found {
			b.setFlagsLocked(i, ev)
		}
	}
}

// setFlagsLocked records the flags of event ev for msgs[i] and queues
// them for every session but the one whose STORE made the change (its
// tracker is the event's actor): that one reports them in its own
// response, or not at all with .SILENT (RFC 9051 §6.4.6).
func (b *mailbox) setFlagsLocked(i int, ev mailstore.Event) {
	m := b.msgs[i]
	m.modseq = max(m.modseq, ev.ModSeq)
	if sameFlags(m.flags, ev.Flags) {
		return
	}
	m.flags = slices.Clone(ev.Flags)
	source, _ := ev.Actor.(*imapserver.SessionTracker)
	if b.tracker != nil {
		b.tracker.QueueMessageFlags(uint32(i)+1, imap.UID(m.uid), imapFlags(m.flags), source)
	}
}

// find returns the index of uid in msgs, or where it would be inserted.
func (b *mailbox) find(uid uint32) (int, bool) {
	i := sort.Search(len(b.msgs), func(i int) bool { return b.msgs[i].uid >= uid })
	return i, i < len(b.msgs) && b.msgs[i].uid == uid
}

// fill gives a listed message its details.
func (b *mailbox) fill(m mailstore.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fillLocked(m)
}

func (b *mailbox) fillLocked(m mailstore.Message) {
	i, found := b.find(m.UID)
	if !found || b.msgs[i].loaded {
		return
	}
	e := b.msgs[i]
	e.loaded, e.id, e.contentID, e.size, e.date = true, m.ID, m.ContentID, m.Size, m.InternalDate
	b.incomplete--
}

// ensureDetails lists the mailbox again if messages announced by events
// still lack the details a command needs (store id, content, size, date).
func (b *mailbox) ensureDetails(ctx context.Context, st *mailstore.Store) error {
	b.mu.Lock()
	n := b.incomplete
	b.mu.Unlock()
	if n == 0 {
		return nil
	}
	list, err := st.List(ctx, b.id)
	if err != nil {
		return fmt.Errorf("imapd: list mailbox %d: %w", b.id, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range list {
		b.fillLocked(m)
	}
	return nil
}

// noteKeywordsLocked adds the keywords of flags not seen before.
func (b *mailbox) noteKeywordsLocked(flags []string) {
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) && !hasFlag(b.keywords, f) {
			b.keywords = append(b.keywords, f)
			slices.Sort(b.keywords)
		}
	}
}

// imapFlags converts store flags to imap flags.
func imapFlags(flags []string) []imap.Flag {
	out := make([]imap.Flag, len(flags))
	for i, f := range flags {
		out[i] = imap.Flag(f)
	}
	return out
}
