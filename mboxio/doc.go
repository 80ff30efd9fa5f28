// Package mboxio reads and writes the two formats mail is imported from
// and exported to (issue 14): mbox files, in the mboxrd and mboxo
// variants ("From " separator lines, "From " in bodies quoted with ">";
// RFC 4155 and qmail's mbox(5)), and Maildir directories (cur, new and
// tmp; flags after ":2,"; D. J. Bernstein's maildir(5)).
//
// Readers hold one message at a time, never more than the maximum
// message size the caller gives; a larger message is skipped with an
// error wrapping ErrTooLarge, and reading can go on with the next. A
// message is returned with CRLF line ends, the form of RFC 5322 that the
// bridge stores; writers store LF line ends, as mbox and Maildir tools
// expect.
//
// Concurrency: a MboxReader or MboxWriter is used by one goroutine at a
// time. Maildir functions may run concurrently; delivering into one
// Maildir from many goroutines or processes is safe, as the format
// intends (unique names, written in tmp, renamed into place).
package mboxio
