// Package mx is the legacy SMTP side of a provider: the server that
// accepts mail from the rest of the world as a domain's MX (DESIGN §6,
// docs/spec/legacy.md §2).
//
// It speaks SMTP through github.com/emersion/go-smtp with the extensions
// senders expect (PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES,
// CHUNKING, SIZE, STARTTLS), evaluates SPF (RFC 7208), DKIM (RFC 6376) and
// DMARC (RFC 7489) for each message, and hands the provider the message
// with a Received trace field and an Authentication-Results field (RFC
// 8601) prepended, through Backend. It knows nothing of storage or of
// D/MIME: the provider seals what it is handed before anything reaches a
// disk.
//
// Everything a stranger can hold before a message is accepted is bounded:
// connections in total and per client address (connguard), the time per
// command and for the whole of DATA, the size of a message, the number of
// recipients and of refused ones, and the memory of all messages in
// flight together (a budget shared by every connection: a client whose
// message does not fit is told to come back later rather than waited for).
//
// Concurrency: a Server serves each connection on its own goroutine; the
// Backend is called from those goroutines concurrently and must be safe
// for that. Shutdown stops accepting, lets messages being received finish
// until its context ends, and waits for every connection it started.
package mx
