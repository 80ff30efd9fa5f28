package syncdoc

import (
	"slices"
	"testing"
)

func TestMergeFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                     string
		base, ours, theirs, want []string
	}{
		{"add here, remove there", []string{"a"}, []string{"a", `\Seen`}, nil, []string{`\Seen`}},
		{"both add", nil, []string{"x"}, []string{"y"}, []string{"x", "y"}},
		{"both add the same", nil, []string{"x"}, []string{"x"}, []string{"x"}},
		{"remove here, keep there", []string{"a", "b"}, []string{"b"}, []string{"a", "b"}, []string{"b"}},
		{"remove there, keep here", []string{"a", "b"}, []string{"a", "b"}, []string{"b"}, []string{"b"}},
		{"remove and re-add elsewhere", []string{"a"}, nil, []string{"a", "c"}, []string{"c"}},
		{"no change", []string{"b", "a"}, []string{"a", "b"}, []string{"b", "a"}, []string{"a", "b"}},
		{"no base", nil, nil, []string{"z", "a"}, []string{"a", "z"}},
	}
	for _, c := range cases {
		got := MergeFlags(c.base, c.ours, c.theirs)
		if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		// Symmetric: the device that loses the race reaches the same set.
		if sym := MergeFlags(c.base, c.theirs, c.ours); !slices.Equal(sym, got) {
			t.Errorf("%s: not symmetric: %q vs %q", c.name, got, sym)
		}
	}
}

func TestMergeMeta(t *testing.T) {
	t.Parallel()
	meta := func(mbox string, deleted bool, updated int64, dev string, flags ...string) *Meta {
		return &Meta{Key: testKey, Mailbox: mbox, Flags: flags, Deleted: deleted, Updated: updated, Device: dev}
	}
	cases := []struct {
		name               string
		base, ours, theirs *Meta
		want               *Meta
	}{
		{"flag add here, flag removed there",
			meta("INBOX", false, 1, "a", "x"), meta("INBOX", false, 5, "a", "x", `\Seen`), meta("INBOX", false, 4, "b"),
			meta("INBOX", false, 5, "a", `\Seen`)},
		{"concurrent moves: later wins",
			meta("INBOX", false, 1, "a"), meta("Work", false, 10, "a"), meta("Home", false, 20, "b"),
			meta("Home", false, 20, "b")},
		{"concurrent moves: same millisecond, device breaks the tie",
			meta("INBOX", false, 1, "a"), meta("Work", false, 10, "b"), meta("Home", false, 10, "a"),
			meta("Work", false, 10, "b")},
		{"concurrent moves: full tie, the greater name",
			meta("INBOX", false, 1, "a"), meta("Work", false, 10, "a"), meta("Home", false, 10, "a"),
			meta("Work", false, 10, "a")},
		{"only one side moved, the other wrote later",
			meta("INBOX", false, 1, "a"), meta("INBOX", false, 99, "a", `\Seen`), meta("Work", false, 5, "b"),
			meta("Work", false, 99, "a", `\Seen`)},
		{"delete vs later move: the deletion sticks",
			meta("INBOX", false, 1, "a"), meta("INBOX", true, 5, "a"), meta("Work", false, 50, "b"),
			meta("Work", true, 50, "b")},
		{"move vs later delete",
			meta("INBOX", false, 1, "a"), meta("Work", false, 5, "a"), meta("", true, 50, "b"),
			meta("Work", true, 50, "b")},
		{"no base: both filed it",
			nil, meta("Work", false, 5, "a", "x"), meta("Home", false, 6, "b", "y"),
			meta("Home", false, 6, "b", "x", "y")},
		{"no base and one side without a mailbox",
			&Meta{Key: testKey, Mailbox: "Work"}, meta("", false, 7, "a"), meta("Work", false, 6, "b"),
			meta("Work", false, 7, "a")},
	}
	for _, c := range cases {
		for i, got := range []*Meta{MergeMeta(c.base, c.ours, c.theirs), MergeMeta(c.base, c.theirs, c.ours)} {
			if got.Key != c.want.Key || got.Mailbox != c.want.Mailbox || got.Deleted != c.want.Deleted ||
				got.Updated != c.want.Updated || got.Device != c.want.Device || !slices.Equal(got.Flags, c.want.Flags) && len(got.Flags)+len(c.want.Flags) > 0 {
				t.Errorf("%s (order %d): %+v, want %+v", c.name, i, got, c.want)
			}
		}
	}
}

func TestMergeFolders(t *testing.T) {
	t.Parallel()
	f := func(es ...Folder) *Folders { return &Folders{Entries: es} }
	// Device a renames Projects to Work (a deletion and a creation) while
	// device b creates Home and, earlier, touched Projects.
	a := f(Folder{Name: "Projects", Deleted: true, Updated: 20, Device: "a"}, Folder{Name: "Work", Updated: 20, Device: "a"})
	b := f(Folder{Name: "Projects", Updated: 10, Device: "b"}, Folder{Name: "Home", Updated: 15, Device: "b"})
	want := []Folder{
		{Name: "Home", Updated: 15, Device: "b"},
		{Name: "Projects", Deleted: true, Updated: 20, Device: "a"},
		{Name: "Work", Updated: 20, Device: "a"},
	}
	for i, got := range []*Folders{MergeFolders(a, b), MergeFolders(b, a)} {
		if !slices.Equal(got.Entries, want) {
			t.Errorf("rename (order %d): %+v", i, got.Entries)
		}
	}
	// A later re-creation beats an older deletion; ties go to the device
	// id, then to the deletion.
	for _, c := range []struct {
		name string
		x, y Folder
		want Folder
	}{
		{"re-create", Folder{Name: "P", Deleted: true, Updated: 5, Device: "a"}, Folder{Name: "P", Updated: 6, Device: "b"}, Folder{Name: "P", Updated: 6, Device: "b"}},
		{"device tie-break", Folder{Name: "P", Deleted: true, Updated: 5, Device: "a"}, Folder{Name: "P", Updated: 5, Device: "b"}, Folder{Name: "P", Updated: 5, Device: "b"}},
		{"full tie", Folder{Name: "P", Deleted: true, Updated: 5, Device: "a"}, Folder{Name: "P", Updated: 5, Device: "a"}, Folder{Name: "P", Deleted: true, Updated: 5, Device: "a"}},
	} {
		for i, got := range []*Folders{MergeFolders(f(c.x), f(c.y)), MergeFolders(f(c.y), f(c.x))} {
			if len(got.Entries) != 1 || got.Entries[0] != c.want {
				t.Errorf("%s (order %d): %+v", c.name, i, got.Entries)
			}
		}
	}
	if got := MergeFolders(nil, nil); len(got.Entries) != 0 {
		t.Errorf("nil merge: %+v", got)
	}
}
