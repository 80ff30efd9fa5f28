// Package imapd is the bridge's local IMAP server: it serves the account's
// mail from the encrypted local store (package bridge/mailstore) to any
// mail client on 127.0.0.1, speaking IMAP4rev1 and IMAP4rev2 (RFC 3501,
// RFC 9051) with CONDSTORE and QRESYNC (RFC 7162), SORT and THREAD (RFC
// 5256, with SORT=DISPLAY, RFC 5957), ESEARCH (RFC 4731), ID (RFC 2971)
// and the other extensions capabilities() lists, through imapserver: the
// project's fork of go-imap v2.0.0-beta.8's server layer
// (imapserver/FORK.md), which the project owns and fuzzes (FuzzCommands),
// since the defects of issue 10 and these extensions sat inside it.
//
// STORE +FLAGS/-FLAGS go to the store as deltas applied in its write
// transaction (mailstore.ChangeFlags), so concurrent sessions lose
// nothing. \Recent follows RFC 3501 §2.3.2 as Dovecot does (recent.go).
// Mod-sequences are the store's, persistent and advanced by the sync
// engine's changes too; so are the expunged UIDs QRESYNC reports as
// VANISHED, kept with their expunge's mod-sequence (qresync.go,
// mailstore.Vanished). SORT and THREAD read the headers of the messages
// a search selects (sort.go, thread.go, references.go; base subjects in
// subject.go). The differential conformance suite
// (testdata/conformance.py, TestConformance) runs against this server
// and against Dovecot.
//
// Every change an IMAP client makes goes to the store with
// mailstore.Local as its origin, so the sync engine pushes it to the
// provider; every change the store commits, whoever made it, reaches the
// sessions that have the mailbox selected through the store's Subscribe
// events, so an IDLE client sees new mail and other devices' flag changes
// at once.
//
// Concurrency: a Server is safe for use by several goroutines. Each
// connection runs in its own goroutine (imapserver calls a session's
// methods one at a time, except Idle, which runs while the connection
// waits for DONE). Sessions that select the same mailbox share one
// in-memory mailbox view (mailbox.go) guarded by its own mutex; that mutex
// is a leaf: it is never held while calling the store, because the store
// calls Subscribe callbacks synchronously from inside its mutating methods.
package imapd
