package syncdoc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// vectorFile is testdata/sync/vectors.json, made by gen_vectors.py beside
// it (an independent Python implementation of docs/spec/sync.md).
const vectorFile = "../../testdata/sync/vectors.json"

type vectorFolder struct {
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
	Updated int64  `json:"updated"`
	Device  string `json:"device"`
}

// vectorFields is the union of the three plaintexts' fields.
type vectorFields struct {
	Key          string         `json:"key"`
	InternalDate int64          `json:"internal_date_ms"`
	Zone         int            `json:"zone_minutes"`
	Security     string         `json:"security"`
	MIME         string         `json:"mime"`
	Mailbox      string         `json:"mailbox"`
	Flags        []string       `json:"flags"`
	Deleted      bool           `json:"deleted"`
	Updated      int64          `json:"updated"`
	Device       string         `json:"device"`
	Entries      []vectorFolder `json:"entries"`
	// contact (§5.5)
	Address   string    `json:"address"`
	LastSeen  int64     `json:"last_seen"`
	Autocrypt vectorKey `json:"autocrypt"`
	Mutual    bool      `json:"mutual"`
	Imported  vectorKey `json:"imported"`
	Published vectorKey `json:"published"`
	WKDNext   int64     `json:"wkd_next"`
	Pin       vectorKey `json:"pin"`
	Verified  int64     `json:"verified"`
	// keyring (§5.7)
	Signing    string `json:"signing_hex"`
	Encryption string `json:"encryption_hex"`
	// spam (§5.6), with Device and Updated
	Plus   string        `json:"plus_hex"`
	Minus  string        `json:"minus_hex"`
	Ledger []vectorEntry `json:"ledger"`
}

// vectorEntry is an entry of a spam document.
type vectorEntry struct {
	Key    string `json:"key"`
	At     int64  `json:"at"`
	Judged string `json:"judged"`
	Spam   int8   `json:"spam"`
	Ham    int8   `json:"ham"`
}

// vectorKey is a key part of a contact.
type vectorKey struct {
	At  int64  `json:"at"`
	Key string `json:"key_hex"`
}

func (k vectorKey) part(t *testing.T) ContactKey {
	return ContactKey{At: k.At, Key: unhexOrNil(t, k.Key)}
}

// unhexOrNil is unhex with "" as nil.
func unhexOrNil(t *testing.T, s string) []byte {
	if s == "" {
		return nil
	}
	return unhex(t, s)
}

type vectorDoc struct {
	Label     string       `json:"label"`
	ID        string       `json:"id"`
	Kind      string       `json:"kind"`
	Revision  int64        `json:"revision"`
	Fields    vectorFields `json:"fields"`
	Plaintext string       `json:"plaintext_hex"`
	DocKey    string       `json:"doc_key_hex"`
	AAD       string       `json:"aad_hex"`
	Nonce     string       `json:"nonce_hex"`
	PaddedLen int          `json:"padded_len"`
	Sealed    string       `json:"sealed_hex"`
}

type vectors struct {
	StorageKey string `json:"storage_key_hex"`
	MailKeys   []struct {
		DocID string `json:"mail_doc_id"`
		Key   string `json:"key"`
	} `json:"mail_keys"`
	PadSizes []struct {
		Plaintext int `json:"plaintext_len"`
		Padded    int `json:"padded_len"`
	} `json:"pad_sizes"`
	Documents []vectorDoc `json:"documents"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// marshalFields builds the document a vector describes and marshals it.
func marshalFields(t *testing.T, kind string, f vectorFields) []byte {
	t.Helper()
	var b []byte
	var err error
	switch kind {
	case KindContent:
		c := &Content{Key: f.Key, Security: f.Security, MIME: []byte(f.MIME),
			InternalDate: time.UnixMilli(f.InternalDate).In(time.FixedZone("x", f.Zone*60))}
		b, err = c.Marshal()
	case KindMeta:
		b, err = (&Meta{Key: f.Key, Mailbox: f.Mailbox, Flags: f.Flags, Deleted: f.Deleted, Updated: f.Updated, Device: f.Device}).Marshal()
	case KindFolders:
		fs := &Folders{}
		for _, e := range f.Entries {
			fs.Entries = append(fs.Entries, Folder(e))
		}
		b, err = fs.Marshal()
	case KindContact:
		b, err = (&Contact{Address: f.Address, LastSeen: f.LastSeen, Autocrypt: f.Autocrypt.part(t), Mutual: f.Mutual,
			Imported: f.Imported.part(t), Published: f.Published.part(t), WKDNext: f.WKDNext,
			Pin: f.Pin.part(t), Verified: f.Verified}).Marshal()
	case KindKeyring:
		b, err = (&Keyring{Signing: unhex(t, f.Signing), Encryption: unhex(t, f.Encryption)}).Marshal()
	case KindSpam:
		sp := &Spam{Device: f.Device, Updated: f.Updated, Plus: unhex(t, f.Plus), Minus: unhex(t, f.Minus)}
		for _, e := range f.Ledger {
			sp.Entries = append(sp.Entries, SpamEntry{Key: e.Key, At: e.At, Judged: e.Judged[0], Spam: e.Spam, Ham: e.Ham})
		}
		b, err = sp.Marshal()
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseKind parses a plaintext of kind and marshals it again.
func parseKind(kind string, b []byte) ([]byte, error) {
	switch kind {
	case KindContent:
		c, err := ParseContent(b)
		if err != nil {
			return nil, err
		}
		return c.Marshal()
	case KindMeta:
		m, err := ParseMeta(b)
		if err != nil {
			return nil, err
		}
		return m.Marshal()
	case KindContact:
		c, err := ParseContact(b)
		if err != nil {
			return nil, err
		}
		return c.Marshal()
	case KindKeyring:
		k, err := ParseKeyring(b)
		if err != nil {
			return nil, err
		}
		return k.Marshal()
	case KindSpam:
		sp, err := ParseSpam(b)
		if err != nil {
			return nil, err
		}
		return sp.Marshal()
	default:
		f, err := ParseFolders(b)
		if err != nil {
			return nil, err
		}
		return f.Marshal()
	}
}

func TestVectors(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.MailKeys) == 0 || len(v.PadSizes) == 0 || len(v.Documents) < 8 {
		t.Fatalf("vector file is missing entries")
	}
	for _, mk := range v.MailKeys {
		if got := MailKey(mk.DocID); got != mk.Key {
			t.Errorf("MailKey(%q) = %q, want %q", mk.DocID, got, mk.Key)
		}
	}
	for _, p := range v.PadSizes {
		if got := padSize(p.Plaintext); got != p.Padded {
			t.Errorf("padSize(%d) = %d, want %d", p.Plaintext, got, p.Padded)
		}
	}
	s, err := NewSealer(unhex(t, v.StorageKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range v.Documents {
		t.Run(d.Label, func(t *testing.T) {
			pt := marshalFields(t, d.Kind, d.Fields)
			if want := unhex(t, d.Plaintext); !bytes.Equal(pt, want) {
				t.Fatalf("plaintext\n got %x\nwant %x", pt, want)
			}
			if again, err := parseKind(d.Kind, pt); err != nil || !bytes.Equal(again, pt) {
				t.Fatalf("parse and marshal again: %x, %v", again, err)
			}
			if d.Kind == KindSpam && SpamID(d.Fields.Device) != d.ID {
				t.Errorf("SpamID(%q) = %q, want %q", d.Fields.Device, SpamID(d.Fields.Device), d.ID)
			}
			if d.Kind == KindContact {
				if id, err := s.ContactID(d.Fields.Address); err != nil || id != d.ID {
					t.Errorf("ContactID(%q) = %q (%v), want %q", d.Fields.Address, id, err, d.ID)
				}
			}
			if k, err := s.docKey(d.ID); err != nil || !bytes.Equal(k, unhex(t, d.DocKey)) {
				t.Errorf("document key %x (%v), want %s", k, err, d.DocKey)
			}
			if got := additionalData(d.ID, d.Kind, d.Revision); !bytes.Equal(got, unhex(t, d.AAD)) {
				t.Errorf("additional data %x, want %s", got, d.AAD)
			}
			if got := padSize(len(pt)); got != d.PaddedLen {
				t.Errorf("padded length %d, want %d", got, d.PaddedLen)
			}
			// The nonce comes through the seam, so Seal is deterministic here.
			sv := *s
			sv.rand = bytes.NewReader(unhex(t, d.Nonce))
			sealed, err := sv.Seal(d.ID, d.Kind, d.Revision, pt)
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, d.Sealed)
			if !bytes.Equal(sealed, want) {
				t.Fatalf("sealed\n got %x\nwant %x", sealed, want)
			}
			opened, err := s.Open(d.ID, d.Kind, d.Revision, want)
			if err != nil || !bytes.Equal(opened, pt) {
				t.Fatalf("open: %x, %v", opened, err)
			}
		})
	}
}
