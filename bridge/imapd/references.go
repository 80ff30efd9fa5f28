package imapd

import (
	"fmt"
	"slices"

	"umbra/bridge/imapd/imapserver"
)

// container is a node of THREAD=REFERENCES's tree (RFC 5256 §3): a
// message, or a dummy (info nil) for a message referred to but absent.
type container struct {
	info     *sortInfo
	parent   *container
	children []*container
}

// references threads by References and In-Reply-To, then gathers the
// threads of one base subject (RFC 5256 §3, REFERENCES, steps 1 to 6).
func references(infos []*sortInfo) []imapserver.Thread {
	// Step 1: link messages by their references; every container in the
	// order it was made, so the root set's first order is stable.
	ids := map[string]*container{}
	var all []*container
	get := func(id string) *container {
		c := ids[id]
		if c == nil {
			c = &container{}
			ids[id] = c
			all = append(all, c)
		}
		return c
	}
	for _, in := range infos {
		id := in.messageID
		if c := ids[id]; id == "" || (c != nil && c.info != nil) {
			// No Message-ID, or one seen already: a message of its own.
			id = fmt.Sprintf("\x00%d", in.uid)
		}
		c := get(id)
		c.info = in
		// (A) each reference the parent of the next, where that links
		// a container without a parent and makes no loop.
		var prev *container
		for _, ref := range in.references {
			r := get(ref)
			if prev != nil && r.parent == nil && !r.isAncestorOf(prev) {
				prev.adopt(r)
			}
			prev = r
		}
		// (B) the last reference is the message's parent, replacing what
		// a truncated References of another message made it.
		if c.parent != nil {
			c.parent.disown(c)
		}
		if prev != nil && !c.isAncestorOf(prev) {
			prev.adopt(c)
		}
	}
	// Step 2: the root set.
	var roots []*container
	for _, c := range all {
		if c.parent == nil {
			roots = append(roots, c)
		}
	}
	// Step 3: prune dummies.
	roots = prune(roots, true)
	// Step 4: sort the root set by sent date (a dummy by its first child's).
	for _, c := range roots {
		if c.info == nil {
			slices.SortStableFunc(c.children, byContainerSent)
		}
	}
	slices.SortStableFunc(roots, byContainerSent)
	// Step 5: gather the roots of one base subject.
	roots = gatherSubjects(roots)
	// Step 6: sort every level by sent date, depth first.
	sortTree(roots)
	return threadsOf(roots)
}

// isAncestorOf reports whether c is d or above it.
func (c *container) isAncestorOf(d *container) bool {
	for ; d != nil; d = d.parent {
		if d == c {
			return true
		}
	}
	return false
}

func (c *container) adopt(child *container) {
	child.parent = c
	c.children = append(c.children, child)
}

func (c *container) disown(child *container) {
	c.children = slices.DeleteFunc(c.children, func(x *container) bool { return x == child })
	child.parent = nil
}

// prune removes dummies without children, and replaces one with children
// by its children, except at the root when it has several (step 3).
func prune(list []*container, root bool) []*container {
	var out []*container
	for _, c := range list {
		c.children = prune(c.children, false)
		switch {
		case c.info != nil:
			out = append(out, c)
		case len(c.children) == 0:
		case !root || len(c.children) == 1:
			for _, ch := range c.children {
				ch.parent = c.parent
			}
			out = append(out, c.children...)
		default:
			out = append(out, c)
		}
	}
	return out
}

// first is the message that stands for c: c's, or a dummy's first child's.
func (c *container) first() *sortInfo {
	for c.info == nil {
		c = c.children[0]
	}
	return c.info
}

func byContainerSent(a, b *container) int { return bySent(a.first(), b.first()) }

// gatherSubjects is step 5: roots whose base subjects are the same go
// under one root: a dummy's, a message that is not a reply's, or a new
// dummy's.
func gatherSubjects(roots []*container) []*container {
	table := map[string]*container{}
	for _, c := range roots {
		subj := c.first().subject
		if subj == "" {
			continue
		}
		old := table[subj]
		if old == nil || (c.info == nil && old.info != nil) ||
			(old.info != nil && c.info != nil && old.info.refwd && !c.info.refwd) {
			table[subj] = c
		}
	}
	out := make([]*container, 0, len(roots))
	at := map[*container]int{} // a root's index in out
	for _, c := range roots {
		if c.parent != nil {
			// Put under a new dummy by an earlier root of its subject:
			// the dummy takes its place.
			at[c.parent] = len(out)
			out = append(out, c.parent)
			continue
		}
		subj := c.first().subject
		old := table[subj]
		if subj == "" || old == c {
			at[c] = len(out)
			out = append(out, c)
			continue
		}
		switch {
		case old.info == nil && c.info == nil:
			for _, ch := range c.children {
				old.adopt(ch)
			}
		case old.info == nil:
			old.adopt(c)
		case c.info.refwd && !old.info.refwd:
			old.adopt(c)
		default:
			d := &container{}
			d.adopt(old)
			d.adopt(c)
			table[subj] = d
			if i, ok := at[old]; ok {
				out[i] = d
				at[d] = i
			}
		}
	}
	return out
}

// sortTree sorts the children of every container by sent date, the
// deepest first, so a dummy's first child is known when it is sorted.
func sortTree(list []*container) {
	for _, c := range list {
		sortTree(c.children)
	}
	slices.SortStableFunc(list, byContainerSent)
}

func threadsOf(list []*container) []imapserver.Thread {
	if len(list) == 0 {
		return nil
	}
	out := make([]imapserver.Thread, len(list))
	for i, c := range list {
		if c.info != nil {
			out[i].Num = c.info.num
		}
		out[i].Children = threadsOf(c.children)
	}
	return out
}
