// Package dmtp implements DMTP, the Dark Mail Transfer Protocol that
// providers speak to each other (docs/spec/dmtp.md; DESIGN §6): both the
// server half (Server, with a Backend the provider supplies) and the client
// half (Client). It knows nothing of storage or of message formats: it moves
// command lines, domain names, fingerprints and opaque binary payloads over
// implicit TLS 1.3, and leaves every decision about them to the Backend or
// to the caller of the Client.
//
// The wire names domains only, never account names (DESIGN §2): MAIL FROM
// and RCPT TO carry the origin and destination domains, and the parser
// refuses an address there. Addresses appear only in signet look-ups
// (SGNT, HIST, VRFY), which ask about published keys.
//
// Files, one concern each: line.go (the line discipline shared by both
// halves), command.go (command grammar), reply.go (replies and Error),
// backend.go (the interface to the provider), server.go (listening, limits
// and graceful shutdown), conn.go and commands.go (one server connection and
// its state machine), client.go (the client), tlsconfig.go (TLS 1.3 and
// certificate pinning).
//
// Concurrency: a Server is safe for concurrent use once its fields are set;
// do not change them after the first call to Serve. Serve may run on several
// listeners at once; Shutdown may be called from any goroutine. Each
// connection runs in its own goroutine and calls its Session from that
// goroutine only, one method at a time, so a Session needs no locking of its
// own; Backend.NewSession is called concurrently. A Client is not safe for
// concurrent use: the protocol has one command in flight at a time (no
// pipelining), so give each goroutine its own Client.
package dmtp
