// Package mailtext analyses one RFC 5322 message for the bridge's search
// index and spam filter (issue 14): it decodes the header fields people
// search on (addresses with display names, the RFC 2047 Subject,
// Message-ID, List-Id, Date), the text of every text part with its
// Content-Transfer-Encoding and charset undone (RFC 2045, RFC 2046), HTML
// turned into plain text, the names of attachments (RFC 2183, RFC 2231
// and encoded words), and a token stream for classification.
//
// Analysis is bounded: Limits caps the input size, the number of MIME
// parts, their nesting depth and the decoded text, and Analyze reports
// exceeding one with an error wrapping ErrTooLarge, ErrTooManyParts or
// ErrTooDeep. Damage a mail reader would tolerate (an unknown charset, an
// unterminated multipart body, an unparsable address) does not fail the
// analysis: it is recorded in Message.Defects and the best reading kept.
//
// Concurrency: the package has no mutable state; Analyze, HTMLToText and
// the methods of a Message may be called from many goroutines at once.
// Importing the package registers go-message's charset decoders
// (github.com/emersion/go-message/charset), as bridge/mailstore does.
package mailtext
