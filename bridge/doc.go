// Package bridge is the user's side of Umbra on one device (DESIGN §1): it
// holds the account's keys, keeps an encrypted local copy of all mail
// (bridge/mailstore), serves it to any mail client over IMAP on loopback
// (bridge/imapd) and accepts the client's outgoing mail over SMTP, while a
// sync engine keeps the local copy and the provider in step over DMAP:
//
//   - pull (pull.go): the provider's change feed, long-polled. Delivered
//     D/MIME mail is opened as recipient, both signatures verified, the
//     MIME stamped with the Umbra-Security verdict and stored; the user's
//     own storage-form documents (bridge/syncdoc, docs/spec/sync.md) from
//     other devices are applied, merging with local changes.
//   - push (push.go): local changes — messages received or sent here, flags,
//     moves, deletions, folders — go up as sealed documents.
//   - outbox (outbox.go): submitted mail is sealed per recipient and sent;
//     while the provider is unreachable it waits in the local outbox.
//   - legacy mail (openpgp.go, legacy.go, legacyout.go): mail with
//     addresses outside Umbra goes through the provider's SMTP relay,
//     OpenPGP-encrypted when the correspondent's key is known (Autocrypt
//     or imported) and always with the account's Autocrypt header; mail
//     from outside is decrypted and verified when it is OpenPGP
//     (docs/spec/legacy-pgp.md §7). Dark only (darkonly.go) refuses to send
//     anything that is not end-to-end encrypted.
//   - screening (spam.go, safehtml.go; docs/spec/spam.md): delivered mail
//     has its HTML made safe (account setting), is scored by the account's
//     spam filter (X-Umbra-Spam; Junk above the cutoff once trained) and
//     has risky attachments marked. The filter trains on the user's moves
//     into and out of Junk (spamtrain.go) and syncs each device's counts
//     as that device's own document (spamsync.go).
//
// Concurrency: a Bridge runs one goroutine for each of pull, push,
// outbox and spam training, plus the IMAP and SMTP servers; they share the mailstore, which
// serialises writes and reports every committed change to the IMAP
// sessions and to push. The exported methods are safe for concurrent use.
package bridge
