// Package searchquery parses the query language of `umbra search` (issue
// 14) into an abstract syntax tree, and matches the tree against analysed
// messages by brute force, which makes it the oracle the search index is
// tested against.
//
// The language: words and "quoted phrases" match the text of a message
// (its address fields, subject, text parts and attachment names); a
// field prefix limits them: from:, to:, subject:; tag:NAME and
// folder:NAME select by keyword and folder, has:attachment messages with
// an attachment, before:YYYY-MM-DD and after:YYYY-MM-DD by date. Terms in
// a row must all match (implicit AND), OR between terms lets either, and
// binds looser than AND; a leading "-" negates a term or a parenthesised
// group. Words and phrases match as case-insensitive substrings, as IMAP
// SEARCH does (RFC 3501 §6.4.4, RFC 9051 §6.4.4).
//
// Concurrency: the package has no mutable state; Parse and Match may be
// called from many goroutines, and a parsed Node is not modified after
// Parse returns.
package searchquery
