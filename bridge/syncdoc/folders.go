package syncdoc

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
)

// Folders is the plaintext of the folders document (spec §5.4): every
// user-made folder of the account, live or deleted. A deleted folder stays
// as a tombstone so a device that still has it learns of the deletion; a
// rename is a deletion of the old name and a creation of the new one.
type Folders struct {
	Entries []Folder // Marshal sorts; ParseFolders returns them sorted by name
}

// Folder is one entry of the folders document.
type Folder struct {
	Name    string // mailbox name, "/" as the hierarchy delimiter; unique in the document
	Deleted bool
	Updated int64  // unix milliseconds of the change, by the writer's clock
	Device  string // the writing device's id; may be empty
}

// Marshal returns the canonical encoding (spec §5.4):
//
//	0x01 ‖ count (uint16 BE) ‖ { len(name) ‖ name ‖ state (bit 0: deleted)
//	‖ updated (int64 BE, unix ms) ‖ len(device) ‖ device }
//
// with one-byte lengths and the entries in increasing byte order of name.
// Two entries of one name are an error: MergeFolders resolves them.
func (f *Folders) Marshal() ([]byte, error) {
	if len(f.Entries) > MaxFolders {
		return nil, invalid("folders", fmt.Errorf("%d entries, limit %d", len(f.Entries), MaxFolders))
	}
	es := slices.SortedFunc(slices.Values(f.Entries), func(a, b Folder) int { return cmp.Compare(a.Name, b.Name) })
	n := 1 + 2
	for i, e := range es {
		if err := checkText("folder name", e.Name, 1, MaxName); err != nil {
			return nil, invalid("folders", err)
		}
		if i > 0 && e.Name == es[i-1].Name {
			return nil, invalid("folders", fmt.Errorf("folder %q appears twice", e.Name))
		}
		if err := checkUpdated(e.Updated); err != nil {
			return nil, invalid("folders", fmt.Errorf("folder %q: %w", e.Name, err))
		}
		if err := checkText("device", e.Device, 0, MaxName); err != nil {
			return nil, invalid("folders", fmt.Errorf("folder %q: %w", e.Name, err))
		}
		n += 1 + len(e.Name) + 1 + 8 + 1 + len(e.Device)
	}
	b := make([]byte, 0, n)
	b = append(b, formatV1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(es)))
	for _, e := range es {
		b = appendText(b, e.Name)
		b = appendState(b, e.Deleted)
		b = binary.BigEndian.AppendUint64(b, uint64(e.Updated))
		b = appendText(b, e.Device)
	}
	return b, nil
}

// ParseFolders decodes a folders plaintext.
func ParseFolders(b []byte) (*Folders, error) {
	r := &reader{what: "folders", b: b}
	r.version()
	n := r.u16("count")
	if r.err == nil && n > MaxFolders {
		r.fail("%d entries, limit %d", n, MaxFolders)
	}
	f := &Folders{}
	for i := 0; i < n && r.err == nil; i++ {
		e := Folder{Name: r.text("folder name", 1)}
		e.Deleted = r.state()
		e.Updated = r.millis("updated")
		e.Device = r.text("device", 0)
		if r.err == nil && i > 0 && e.Name <= f.Entries[i-1].Name {
			r.fail("folder %q is not above %q (names are sorted, without duplicates)", e.Name, f.Entries[i-1].Name)
		}
		f.Entries = append(f.Entries, e)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return f, nil
}
