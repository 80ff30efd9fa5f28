// Package dnsrec reads, writes and looks up the _dime DNS record: the TXT
// record at _dime.<domain> that announces a domain's organisation keys, its
// DMTP and DMAP endpoints, its TLS pin and its dark-mail policy
// (docs/spec/dns.md; DESIGN §4).
//
// Three layers, one file each:
//
//   - Parse and Record.TXT convert between the record text and a Record
//     (parse.go, record.go). They never touch the network.
//   - Resolver.Lookup asks one DNS resolver for the record and reports
//     whether the resolver vouched for it with the AD bit (lookup.go).
//   - Cache remembers, in a file, which domains were seen dark, so that a
//     record that vanishes is reported as a downgrade instead of silently
//     turning the domain into a legacy one (cache.go).
//
// Concurrency: Record values are plain data; do not mutate one that another
// goroutine reads. A Resolver is safe for concurrent use once its fields are
// set. A Cache is safe for concurrent use by many goroutines of one process;
// two processes must not share one cache file (the last writer wins).
package dnsrec
