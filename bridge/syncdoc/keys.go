package syncdoc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Document kinds (the DMAP Umbra-Kind header, docs/spec/sync.md §2).
const (
	KindContent = "msg"
	KindMeta    = "meta"
	KindFolders = "folders"
	KindSpam    = "spam" // one per device: its spam-filter training (SpamID)
	// KindMail is a document the provider made of a delivered message
	// (docs/spec/dmap.md §8.1): not sealed by a Sealer but D/MIME, sealed
	// to the account's keys (package dmime); a device converts it to a
	// message's content and meta documents (sync.md §7.1).
	KindMail = "mail"
)

// FoldersID is the id of the account's single folders document.
const FoldersID = "folders"

// KeyLen is the length of a message key: 16 bytes in unpadded base64url.
const KeyLen = 22

// mailKeyLabel is the domain separation of MailKey (spec §1).
const mailKeyLabel = "umbra mail key v1\x00"

// NewKey returns a fresh random message key for a message that starts on
// this device (sent, appended): 16 bytes from crypto/rand, so two devices
// never pick the same one by chance.
func NewKey() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+); it aborts the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// MailKey returns the message key of the delivered `mail` document
// mailDocID. It is deterministic, so two devices that convert the same
// delivered mail concurrently write the same c-KEY and m-KEY documents and
// the second one gets a 409 instead of a duplicate message (spec §7.1).
func MailKey(mailDocID string) string {
	h := sha256.Sum256([]byte(mailKeyLabel + mailDocID))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// CheckKey accepts exactly the keys NewKey and MailKey make: 22 characters
// of unpadded base64url (RFC 4648 §5) decoding to 16 bytes, with the unused
// low bits of the last character zero, so every key has one spelling.
func CheckKey(key string) error {
	if err := keyError(key); err != nil {
		return fmt.Errorf("syncdoc: %w: %v", ErrInvalid, err)
	}
	return nil
}

// keyError is CheckKey without the package's prefix, for the codecs.
func keyError(key string) error {
	if len(key) != KeyLen {
		return fmt.Errorf("message key is %d characters, want %d", len(key), KeyLen)
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(key); err != nil {
		return fmt.Errorf("message key %q is not canonical base64url", key)
	}
	return nil
}

// ContentID is the id of the msg document of a message key.
func ContentID(key string) string { return "c-" + key }

// MetaID is the id of the meta document of a message key.
func MetaID(key string) string { return "m-" + key }
