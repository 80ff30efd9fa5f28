package imapd

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"umbra/bridge/imapd/imapserver"
)

// TestReferencesEdges: THREAD=REFERENCES on what the conformance suite's
// mailbox lacks (RFC 5256 §3, step 1): references that would make a
// loop, a Message-ID given twice, and messages without one.
func TestReferencesEdges(t *testing.T) {
	t.Parallel()
	day := func(d int) time.Time { return time.Date(2024, 3, d, 0, 0, 0, 0, time.UTC) }
	msg := func(num uint32, id string, sent int, refs ...string) *sortInfo {
		in := &sortInfo{num: num, order: int(num), messageID: id, sent: day(sent), subject: fmt.Sprint("S", num), references: refs}
		in.uid = num
		return in
	}
	leaf := func(n uint32) imapserver.Thread { return imapserver.Thread{Num: n} }
	for _, tc := range []struct {
		name  string
		infos []*sortInfo
		want  []imapserver.Thread
	}{
		{"loop", []*sortInfo{msg(1, "a", 1, "b"), msg(2, "b", 2, "a")},
			[]imapserver.Thread{{Num: 2, Children: []imapserver.Thread{leaf(1)}}}},
		{"self", []*sortInfo{msg(1, "a", 1, "a")}, []imapserver.Thread{leaf(1)}},
		{"duplicate id", []*sortInfo{msg(1, "x", 1), msg(2, "x", 2), msg(3, "y", 3, "x")},
			[]imapserver.Thread{{Num: 1, Children: []imapserver.Thread{leaf(3)}}, leaf(2)}},
		{"no id", []*sortInfo{msg(1, "", 2), msg(2, "", 1)}, []imapserver.Thread{leaf(2), leaf(1)}},
		{"truncated references", []*sortInfo{msg(1, "a", 1), msg(2, "b", 2, "a"), msg(3, "c", 3, "b"), msg(4, "d", 4, "c"), msg(5, "e", 5, "a", "d")},
			[]imapserver.Thread{{Num: 1, Children: []imapserver.Thread{{Num: 2, Children: []imapserver.Thread{{Num: 3, Children: []imapserver.Thread{{Num: 4, Children: []imapserver.Thread{leaf(5)}}}}}}}}}},
	} {
		if got := references(tc.infos); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
