package imapd

import (
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/imapserver"
)

// Thread answers THREAD and UID THREAD (RFC 5256 §3) with
// ORDEREDSUBJECT or REFERENCES.
func (s *session) Thread(kind imapserver.NumKind, alg imap.ThreadAlgorithm, criteria *imap.SearchCriteria) ([]imapserver.Thread, error) {
	infos, err := s.sortInfos(kind, criteria, true)
	if err != nil {
		return nil, err
	}
	switch alg {
	case imap.ThreadOrderedSubject:
		return orderedSubject(infos), nil
	case imap.ThreadReferences:
		return references(infos), nil
	}
	return nil, fmt.Errorf("imapd: thread algorithm %s", alg)
}

// bySent orders by sent date, ties in mailbox order (RFC 5256 §2.2).
func bySent(a, b *sortInfo) int {
	if c := a.sent.Compare(b.sent); c != 0 {
		return c
	}
	return a.order - b.order
}

// orderedSubject threads by base subject (RFC 5256 §3, ORDEREDSUBJECT):
// the messages of one base subject in sent order are a thread whose first
// message is the parent of all the others; threads in the sent order of
// their first messages.
func orderedSubject(infos []*sortInfo) []imapserver.Thread {
	slices.SortStableFunc(infos, func(a, b *sortInfo) int {
		if a.subject != b.subject {
			if a.subject < b.subject {
				return -1
			}
			return 1
		}
		return bySent(a, b)
	})
	var threads []imapserver.Thread
	var firsts []*sortInfo
	for i := 0; i < len(infos); {
		j := i + 1
		for j < len(infos) && infos[j].subject == infos[i].subject {
			j++
		}
		t := imapserver.Thread{Num: infos[i].num}
		for _, in := range infos[i+1 : j] {
			t.Children = append(t.Children, imapserver.Thread{Num: in.num})
		}
		threads, firsts = append(threads, t), append(firsts, infos[i])
		i = j
	}
	idx := make([]int, len(threads))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return bySent(firsts[a], firsts[b]) })
	out := make([]imapserver.Thread, len(threads))
	for i, k := range idx {
		out[i] = threads[k]
	}
	return out
}
