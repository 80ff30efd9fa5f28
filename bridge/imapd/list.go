package imapd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/imapserver"
	"umbra/bridge/mailstore"
)

// List answers LIST (RFC 9051 §6.3.9 with LIST-EXTENDED, RFC 5258, and
// LIST-STATUS, RFC 5819) and LSUB. Special-use attributes are always
// returned (RFC 6154 §2), and so are \HasChildren/\HasNoChildren
// (RFC 3348). A name implied by a deeper mailbox that does not exist
// itself is listed \NonExistent (RFC 5258 §3.4).
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter and root (RFC 9051 §6.3.9).
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	all, err := s.srv.store.Mailboxes(s.srv.ctx)
	if err != nil {
		return fmt.Errorf("imapd: list: %w", err)
	}
	subscribed, err := s.srv.store.Subscriptions(s.srv.ctx)
	if err != nil {
		return fmt.Errorf("imapd: list: %w", err)
	}
	l := &listing{byName: make(map[string]*mailstore.Mailbox, len(all)), subscribed: map[string]bool{}}
	for _, n := range subscribed {
		l.subscribed[n] = true
	}
	for i := range all {
		l.byName[all[i].Name] = &all[i]
		l.names = append(l.names, all[i].Name)
	}
	// Subscriptions are names, not mailboxes (RFC 3501 §6.3.6): LSUB and
	// LIST (SUBSCRIBED) list those without a mailbox too, \NonExistent
	// (RFC 5258 §3.1).
	if options.SelectSubscribed {
		for _, n := range subscribed {
			if l.byName[n] == nil {
				l.names = append(l.names, n)
			}
		}
	}
	// Names implied by the hierarchy, for \NonExistent entries.
	for _, name := range slices.Clone(l.names) {
		for i := strings.IndexRune(name, delim); i > 0; i = next(name, i) {
			parent := name[:i]
			if l.byName[parent] == nil && !slices.Contains(l.names, parent) {
				l.names = append(l.names, parent)
			}
		}
	}
	names := l.names
	// INBOX first, then by name, as the store lists them.
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == mailstore.Inbox:
			return -1
		case b == mailstore.Inbox:
			return 1
		}
		return strings.Compare(a, b)
	})

	for _, name := range names {
		if !listMatch(name, ref, patterns) {
			continue
		}
		data, err := s.listData(name, l, options)
		if err != nil {
			return err
		}
		if data == nil {
			continue
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// next returns the index of the delimiter after index i in name, or -1.
func next(name string, i int) int {
	j := strings.IndexRune(name[i+1:], delim)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// listMatch matches name against the patterns. INBOX is case-insensitive
// (RFC 9051 §5.1), so it is also matched against upper-cased patterns.
func listMatch(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if imapserver.MatchList(name, delim, ref, p) {
			return true
		}
		if name == mailstore.Inbox && imapserver.MatchList(name, delim, strings.ToUpper(ref), strings.ToUpper(p)) {
			return true
		}
	}
	return false
}

// listing is what one LIST looks at: the mailboxes by name, the names to
// consider, and the subscribed names.
type listing struct {
	byName     map[string]*mailstore.Mailbox
	names      []string
	subscribed map[string]bool
}

// listData returns the LIST response for name, or nil if the selection
// options leave it out.
func (s *session) listData(name string, l *listing, options *imap.ListOptions) (*imap.ListData, error) {
	mb := l.byName[name]
	prefix := name + string(delim)
	hasChildren, subscribedChild := false, false
	for _, n := range l.names {
		if strings.HasPrefix(n, prefix) {
			hasChildren = hasChildren || l.byName[n] != nil
			subscribedChild = subscribedChild || l.subscribed[n]
		}
	}
	subscribed := l.subscribed[name]
	data := &imap.ListData{Mailbox: name, Delim: delim}

	if options.SelectSubscribed && !subscribed {
		// RECURSIVEMATCH lists a parent of subscribed mailboxes with
		// CHILDINFO (RFC 5258 §3.5); without it the name is left out.
		if !options.SelectRecursiveMatch || !subscribedChild {
			return nil, nil
		}
		data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
	}
	if options.SelectSpecialUse && (mb == nil || mb.SpecialUse == "") {
		return nil, nil
	}
	if mb == nil {
		data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent, imap.MailboxAttrNoSelect)
	} else if mb.SpecialUse != "" {
		data.Attrs = append(data.Attrs, imap.MailboxAttr(mb.SpecialUse))
	}
	if subscribed && (options.SelectSubscribed || options.ReturnSubscribed) {
		data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
	}
	if hasChildren {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
	} else {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
	}
	if options.ReturnStatus != nil && mb != nil {
		st, err := s.statusData(*mb, options.ReturnStatus)
		if err != nil {
			return nil, err
		}
		data.Status = st
	}
	return data, nil
}

// Status answers STATUS (RFC 9051 §6.3.11), counting from the store.
func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	mb, err := s.srv.store.Mailbox(s.srv.ctx, name)
	if err != nil {
		return nil, storeError("status", err)
	}
	return s.statusData(mb, options)
}

// statusData fills every item asked for: imapserver writes each one it
// was asked for, so none may be left nil.
func (s *session) statusData(mb mailstore.Mailbox, options *imap.StatusOptions) (*imap.StatusData, error) {
	data := &imap.StatusData{Mailbox: mb.Name, UIDNext: imap.UID(mb.UIDNext), UIDValidity: mb.UIDValidity}
	messages, unseen, size := mb.Messages, mb.Unseen, mb.Size
	data.NumMessages, data.NumUnseen, data.Size = &messages, &unseen, &size
	if options.NumRecent {
		recent, err := s.srv.statusRecent(mb)
		if err != nil {
			return nil, fmt.Errorf("imapd: status %q: %w", mb.Name, err)
		}
		data.NumRecent = &recent
	}
	limit := uint32(appendLimit)
	data.AppendLimit = &limit
	data.HighestModSeq = mb.HighestModSeq
	if options.NumDeleted || options.DeletedStorage {
		// The store keeps no count of \Deleted messages; list them.
		msgs, err := s.srv.store.List(s.srv.ctx, mb.ID)
		if err != nil {
			return nil, fmt.Errorf("imapd: status %q: %w", mb.Name, err)
		}
		var n uint32
		var bytes int64
		for _, m := range msgs {
			if hasFlag(m.Flags, string(imap.FlagDeleted)) {
				n++
				bytes += m.Size
			}
		}
		data.NumDeleted, data.DeletedStorage = &n, &bytes
	}
	return data, nil
}

// Create answers CREATE (RFC 9051 §6.3.4). A trailing delimiter only
// says the client means to create children, and is dropped.
func (s *session) Create(name string, options *imap.CreateOptions) error {
	if len(options.SpecialUse) > 0 {
		// CREATE-SPECIAL-USE is not advertised: the store sets special use
		// for its own mailboxes only.
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "USEATTR", Text: "Special-use attributes cannot be set"}
	}
	name = strings.TrimRight(name, string(delim))
	if name == "" {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Empty mailbox name"}
	}
	if _, err := s.srv.store.CreateMailbox(s.srv.ctx, name, mailstore.Local); err != nil {
		return storeError("create", err)
	}
	return nil
}

// Delete answers DELETE (RFC 9051 §6.3.5); INBOX cannot be deleted.
func (s *session) Delete(name string) error {
	if name == mailstore.Inbox {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "INBOX cannot be deleted"}
	}
	if err := s.srv.store.DeleteMailbox(s.srv.ctx, name, mailstore.Local); err != nil {
		return storeError("delete", err)
	}
	return nil
}

// Rename answers RENAME (RFC 9051 §6.3.6). Renaming INBOX moves its
// messages to a new mailbox and leaves INBOX empty.
func (s *session) Rename(name, newName string, _ *imap.RenameOptions) error {
	newName = strings.TrimRight(newName, string(delim))
	if newName == mailstore.Inbox {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "INBOX already exists"}
	}
	if name != mailstore.Inbox {
		if err := s.srv.store.RenameMailbox(s.srv.ctx, name, newName, mailstore.Local); err != nil {
			return storeError("rename", err)
		}
		return nil
	}
	inbox, err := s.srv.store.Mailbox(s.srv.ctx, mailstore.Inbox)
	if err != nil {
		return storeError("rename", err)
	}
	if _, err := s.srv.store.CreateMailbox(s.srv.ctx, newName, mailstore.Local); err != nil {
		return storeError("rename", err)
	}
	msgs, err := s.srv.store.List(s.srv.ctx, inbox.ID)
	if err != nil {
		return fmt.Errorf("imapd: rename INBOX: %w", err)
	}
	for _, m := range msgs {
		if _, err := s.srv.store.Move(s.srv.ctx, m.ID, newName, mailstore.Local); err != nil {
			return fmt.Errorf("imapd: rename INBOX: move uid %d: %w", m.UID, err)
		}
	}
	return nil
}

// Subscribe answers SUBSCRIBE (RFC 9051 §6.3.7).
func (s *session) Subscribe(name string) error {
	if err := s.srv.store.SetSubscribed(s.srv.ctx, name, true); err != nil {
		return storeError("subscribe", err)
	}
	return nil
}

// Unsubscribe answers UNSUBSCRIBE (RFC 9051 §6.3.8).
func (s *session) Unsubscribe(name string) error {
	if err := s.srv.store.SetSubscribed(s.srv.ctx, name, false); err != nil {
		return storeError("unsubscribe", err)
	}
	return nil
}
