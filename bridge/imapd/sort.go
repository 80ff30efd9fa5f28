package imapd

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"umbra/bridge/imapd/imapserver"
)

// sortInfo is what SORT and THREAD read of one message (RFC 5256 §2).
type sortInfo struct {
	selected
	num   uint32 // what the answer names it by: sequence number or UID
	order int    // its place in the mailbox: the last tie-breaker
	// From the header (zero without one):
	sent       time.Time // Date, or INTERNALDATE without a readable one (§2.2)
	subject    string    // base subject (§2.1), compared case-insensitively
	refwd      bool      // a reply or forward (§2.1)
	from, to   string    // addr-mailbox of the first address (§3)
	cc         string
	dispFrom   string // display name, or else addr-spec (RFC 5957 §3)
	dispTo     string
	messageID  string
	references []string // References, or else In-Reply-To's first (§3, REFERENCES step 1)
}

// Sort answers SORT and UID SORT (RFC 5256 §3): the matching messages in
// the order of keys, ties in mailbox order.
func (s *session) Sort(kind imapserver.NumKind, keys []imapserver.SortCriterion, criteria *imap.SearchCriteria) ([]uint32, error) {
	header := slices.ContainsFunc(keys, func(k imapserver.SortCriterion) bool {
		return k.Key != imapserver.SortArrival && k.Key != imapserver.SortSize
	})
	infos, err := s.sortInfos(kind, criteria, header)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(infos, func(a, b *sortInfo) int {
		for _, k := range keys {
			c := compareBy(a, b, k.Key)
			if k.Reverse {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	nums := make([]uint32, len(infos))
	for i, in := range infos {
		nums[i] = in.num
	}
	return nums, nil
}

// sortStrings gives the string each string key compares.
var sortStrings = map[imapserver.SortKey]func(*sortInfo) string{
	imapserver.SortCc:          func(in *sortInfo) string { return in.cc },
	imapserver.SortFrom:        func(in *sortInfo) string { return in.from },
	imapserver.SortSubject:     func(in *sortInfo) string { return in.subject },
	imapserver.SortTo:          func(in *sortInfo) string { return in.to },
	imapserver.SortDisplayFrom: func(in *sortInfo) string { return in.dispFrom },
	imapserver.SortDisplayTo:   func(in *sortInfo) string { return in.dispTo },
}

func compareBy(a, b *sortInfo, key imapserver.SortKey) int {
	switch key {
	case imapserver.SortArrival:
		return a.date.Compare(b.date)
	case imapserver.SortDate:
		return a.sent.Compare(b.sent)
	case imapserver.SortSize:
		return cmp.Compare(a.size, b.size)
	}
	if f := sortStrings[key]; f != nil {
		return strings.Compare(f(a), f(b))
	}
	return 0
}

// sortInfos returns the messages matching criteria that the answer can
// name (for sequence numbers, those announced to the session), in
// mailbox order, with what their header says if header is set.
func (s *session) sortInfos(kind imapserver.NumKind, criteria *imap.SearchCriteria, header bool) ([]*sortInfo, error) {
	sc, matched, err := s.search(criteria)
	if err != nil {
		return nil, err
	}
	var infos []*sortInfo
	for _, m := range matched {
		in := &sortInfo{selected: m, num: m.uid, order: len(infos), sent: m.date}
		if kind == imapserver.NumKindSeq {
			if m.seq == 0 {
				continue
			}
			in.num = m.seq
		}
		if header {
			h, err := sc.header(m)
			if err != nil {
				return nil, err
			}
			in.readHeader(gomail.Header{Header: gomessage.Header{Header: h}})
		}
		infos = append(infos, in)
	}
	return infos, nil
}

// readHeader fills in what the header says. Strings compared by SORT are
// kept upper-cased: the comparison ignores case (RFC 5256 §3; i;unicode-
// casemap for the display names, RFC 5957 §3).
func (in *sortInfo) readHeader(h gomail.Header) {
	if t, err := h.Date(); err == nil && !t.IsZero() {
		in.sent = t
	}
	subject, err := h.Text("Subject")
	if err != nil {
		subject = h.Get("Subject")
	}
	in.subject, in.refwd = baseSubject(subject)
	in.subject = strings.ToUpper(in.subject)
	in.from, in.dispFrom = firstAddress(h, "From")
	in.to, in.dispTo = firstAddress(h, "To")
	in.cc, _ = firstAddress(h, "Cc")
	if ids, err := h.MsgIDList("Message-Id"); err == nil && len(ids) > 0 {
		in.messageID = ids[0]
	}
	if refs, err := h.MsgIDList("References"); err == nil && len(refs) > 0 {
		in.references = refs
	} else if irt, err := h.MsgIDList("In-Reply-To"); err == nil && len(irt) > 0 {
		in.references = irt[:1]
	}
}

// firstAddress returns the addr-mailbox (local part) of the first address
// of field key (RFC 5256 §3) and its display name, or else its addr-spec
// (RFC 5957 §3), both upper-cased; empty strings without one.
func firstAddress(h gomail.Header, key string) (mailbox, display string) {
	addrs, err := h.AddressList(key)
	if err != nil || len(addrs) == 0 {
		return "", ""
	}
	a := addrs[0]
	mailbox = a.Address
	if at := strings.LastIndexByte(mailbox, '@'); at >= 0 {
		mailbox = mailbox[:at]
	}
	display = a.Name
	if display == "" {
		display = a.Address
	}
	return strings.ToUpper(mailbox), strings.ToUpper(display)
}
