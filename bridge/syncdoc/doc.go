// Package syncdoc defines the documents a user's bridges exchange through
// the provider's DMAP sync API (docs/spec/dmap.md §8) and seals each one so
// the provider sees only opaque bytes (DESIGN §2, §7): never flags,
// folders, message content or any other client metadata.
//
// Six kinds of document exist (docs/spec/sync.md §2):
//
//   - msg (id "c-KEY"): a message's content, written once: Content.
//   - meta (id "m-KEY"): a message's mutable state: Meta.
//   - folders (id "folders"): the account's user-made folders: Folders.
//   - contact (id Sealer.ContactID): a correspondent's OpenPGP state: Contact.
//   - spam (id SpamID(device)): one device's spam-filter training: Spam.
//   - keyring (id "keyring"): the keys the account rotates to: Keyring.
//
// A seventh kind, mail (KindMail), is the provider's: delivered D/MIME
// (package dmime), which a device turns into the first two.
//
// Each plaintext has a canonical, versioned binary encoding (Marshal and
// the Parse functions; spec §5). A Sealer pads it to a Padmé bucket and
// encrypts it with AES-256-GCM under a key derived by HKDF-SHA256 from the
// account storage key and the document id, binding the kind and the
// revision in the associated data (spec §3–§4). MergeFlags, MergeMeta,
// MergeFolders and MergeContact resolve concurrent edits from several devices (spec §6).
//
// Concurrency: a Sealer is immutable after NewSealer and safe for
// concurrent use. The document types are plain values; the functions keep
// no state between calls. Parse results may alias their input (ParseContent
// returns MIME as a sub-slice), so the caller must not modify the input
// while it uses them.
package syncdoc
