package imapd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"umbra/bridge/imapd/imapserver"
	"umbra/bridge/mailstore"
)

// Search answers SEARCH and UID SEARCH (RFC 9051 §6.4.4) with the ESEARCH
// data imapserver needs for RETURN (MIN MAX COUNT ALL SAVE). Flags,
// sizes, dates and number sets are checked in memory; text criteria go to
// the store's index (mailstore.Search), except header fields it does not
// index, and sent dates, which are read from the messages' headers.
func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	_, matched, err := s.search(criteria)
	if err != nil {
		return nil, err
	}
	var (
		data   imap.SearchData
		seqs   imap.SeqSet
		uids   imap.UIDSet
		result imap.UIDSet
	)
	for _, m := range matched {
		result.AddNum(imap.UID(m.uid))
		num := m.uid
		if kind == imapserver.NumKindSeq {
			if m.seq == 0 {
				continue // unknown to the client
			}
			num = m.seq
			seqs.AddNum(num)
		} else {
			uids.AddNum(imap.UID(num))
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		data.Max = max(data.Max, num)
		data.Count++
		if criteria.ModSeq != nil || hasModSeqKey(criteria) {
			// RFC 7162 §3.1.5: the highest mod-sequence of the matches.
			data.ModSeq = max(data.ModSeq, m.modseq)
		}
	}
	if kind == imapserver.NumKindSeq {
		data.All = seqs
	} else {
		data.All = uids
	}
	if options.ReturnSave {
		s.view.searchRes = result // RFC 5182: "$" refers to it from now on
	}
	return &data, nil
}

// search returns the messages of the selected mailbox that match
// criteria, in mailbox order, with the searcher that read them (SORT and
// THREAD read their headers through it too). Messages not announced to
// the session yet are among them, with sequence number 0.
func (s *session) search(criteria *imap.SearchCriteria) (*searcher, []selected, error) {
	v := s.view
	if err := v.box.ensureDetails(s.srv.ctx, s.srv.store); err != nil {
		return nil, nil, err
	}
	msgs, maxSeq, maxUID := v.all()
	sc := &searcher{s: s, v: v, maxSeq: maxSeq, maxUID: maxUID, text: map[textQuery]map[uint32]bool{}, headers: map[uint32]textproto.Header{}}
	var matched []selected
	for _, m := range msgs {
		if !m.loaded {
			continue
		}
		ok, err := sc.match(m, criteria)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			matched = append(matched, m)
		}
	}
	return sc, matched, nil
}

// textQuery is one question for the store's full-text index.
type textQuery struct {
	field mailstore.Field
	text  string
}

// searcher evaluates criteria for one SEARCH, caching index answers and
// parsed headers across messages.
type searcher struct {
	s       *session
	v       *view
	maxSeq  uint32
	maxUID  imap.UID
	text    map[textQuery]map[uint32]bool
	headers map[uint32]textproto.Header
}

// indexedFields maps header names to the store's indexed fields.
var indexedFields = map[string]mailstore.Field{
	"subject": mailstore.FieldSubject,
	"from":    mailstore.FieldFrom,
	"to":      mailstore.FieldTo,
	"cc":      mailstore.FieldTo,
}

func (sc *searcher) match(m selected, c *imap.SearchCriteria) (bool, error) {
	for _, set := range c.SeqNum {
		if m.seq == 0 || !seqContains(set, m.seq, sc.maxSeq) {
			return false, nil
		}
	}
	for _, set := range c.UID {
		if imap.IsSearchRes(set) {
			set = sc.v.searchRes
		}
		if !uidContains(set, imap.UID(m.uid), sc.maxUID) {
			return false, nil
		}
	}
	if !matchDate(m.date, c.Since, c.Before) {
		return false, nil
	}
	for _, f := range c.Flag {
		if !sc.hasFlag(m, f) {
			return false, nil
		}
	}
	for _, f := range c.NotFlag {
		if sc.hasFlag(m, f) {
			return false, nil
		}
	}
	if c.ModSeq != nil && m.modseq < c.ModSeq.ModSeq {
		return false, nil // RFC 7162 §3.1.5: at least this mod-sequence
	}
	if c.Larger != 0 && m.size <= c.Larger {
		return false, nil
	}
	if c.Smaller != 0 && m.size >= c.Smaller {
		return false, nil
	}
	for _, t := range c.Body {
		if ok, err := sc.indexed(m.uid, mailstore.FieldBody, t); !ok || err != nil {
			return false, err
		}
	}
	for _, t := range c.Text {
		if ok, err := sc.indexed(m.uid, mailstore.FieldText, t); !ok || err != nil {
			return false, err
		}
	}
	for _, h := range c.Header {
		if ok, err := sc.headerField(m, h); !ok || err != nil {
			return false, err
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		hdr, err := sc.header(m)
		if err != nil {
			return false, err
		}
		mh := mail.Header{Header: gomessage.Header{Header: hdr}}
		sent, err := mh.Date()
		if err != nil || !matchDate(sent, c.SentSince, c.SentBefore) {
			return false, nil
		}
	}
	for i := range c.Not {
		ok, err := sc.match(m, &c.Not[i])
		if ok || err != nil {
			return false, err
		}
	}
	for i := range c.Or {
		a, err := sc.match(m, &c.Or[i][0])
		if err != nil {
			return false, err
		}
		if !a {
			b, err := sc.match(m, &c.Or[i][1])
			if !b || err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// matchDate compares dates only, ignoring time and zone (RFC 9051
// §6.4.4: BEFORE, SINCE and ON disregard time and timezone).
func matchDate(t, since, before time.Time) bool {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && d.Before(since) {
		return false
	}
	return before.IsZero() || d.Before(before)
}

// indexed asks the store's index once per (field, text) for the whole
// mailbox, then answers for each message from that.
func (sc *searcher) indexed(uid uint32, field mailstore.Field, text string) (bool, error) {
	if text == "" {
		return true, nil // the empty string is a substring of everything
	}
	q := textQuery{field, text}
	set, ok := sc.text[q]
	if !ok {
		found, err := sc.s.srv.store.Search(sc.s.srv.ctx, sc.v.box.id, field, text)
		if err != nil {
			return false, storeError("search", err)
		}
		set = make(map[uint32]bool, len(found))
		for _, u := range found {
			set[u] = true
		}
		sc.text[q] = set
	}
	return set[uid], nil
}

// headerField matches HEADER field-name string and its shorthands (FROM,
// TO, CC, BCC, SUBJECT). Indexed fields ask the store; other fields, and
// the empty string (any message having the field), read the header. The
// store indexes To and Cc as one field, so a hit there is confirmed in the
// header field asked for.
func (sc *searcher) headerField(m selected, h imap.SearchCriteriaHeaderField) (bool, error) {
	if field, ok := indexedFields[strings.ToLower(h.Key)]; ok && h.Value != "" {
		hit, err := sc.indexed(m.uid, field, h.Value)
		if !hit || err != nil || field != mailstore.FieldTo {
			return hit, err
		}
	}
	hdr, err := sc.header(m)
	if err != nil {
		return false, err
	}
	mh := gomessage.Header{Header: hdr}
	fields := mh.FieldsByKey(h.Key)
	if h.Value == "" {
		return fields.Len() > 0, nil
	}
	want := strings.ToLower(h.Value)
	for fields.Next() {
		// Decode RFC 2047 words so a UTF-8 search string matches.
		text, err := fields.Text()
		if err != nil {
			text = fields.Value()
		}
		if strings.Contains(strings.ToLower(text), want) {
			return true, nil
		}
	}
	return false, nil
}

// header returns m's parsed header, read once per SEARCH.
func (sc *searcher) header(m selected) (textproto.Header, error) {
	if h, ok := sc.headers[m.uid]; ok {
		return h, nil
	}
	raw, err := sc.s.srv.store.Header(sc.s.srv.ctx, m.contentID)
	if errors.Is(err, mailstore.ErrNotFound) {
		raw = nil // expunged meanwhile: matches no header criterion
	} else if err != nil {
		return textproto.Header{}, fmt.Errorf("imapd: search: header of uid %d: %w", m.uid, err)
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(completeHeader(raw))))
	if err != nil {
		h = textproto.Header{}
	}
	sc.headers[m.uid] = h
	return h, nil
}

// hasFlag reports whether m has flag f for this session: \Recent is the
// session's own (SEARCH RECENT, NEW, OLD; RFC 3501 §6.4.4).
func (sc *searcher) hasFlag(m selected, f imap.Flag) bool {
	if strings.EqualFold(string(f), flagRecent) {
		sc.v.box.mu.Lock()
		defer sc.v.box.mu.Unlock()
		return sc.v.isRecentLocked(m.uid)
	}
	return hasFlag(m.flags, string(f))
}

// hasModSeqKey reports whether criteria use MODSEQ below the top level.
func hasModSeqKey(c *imap.SearchCriteria) bool {
	for i := range c.Not {
		if c.Not[i].ModSeq != nil || hasModSeqKey(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		for j := range 2 {
			if c.Or[i][j].ModSeq != nil || hasModSeqKey(&c.Or[i][j]) {
				return true
			}
		}
	}
	return false
}
