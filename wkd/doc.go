// Package wkd looks up OpenPGP keys in a Web Key Directory
// (draft-koch-openpgp-webkey-service, "WKD"), the way a legacy
// correspondent's domain publishes its users' keys over HTTPS. Umbra's
// bridge uses it to find a key for a legacy recipient who has not sent an
// Autocrypt header yet.
//
// The look-up goes from the bridge straight to the recipient's domain; it
// tells that domain (and anyone who sees the TLS server name) that someone
// looks up the address, and nothing more. The user's own provider does not
// see it.
//
// Concurrency: Hash, AdvancedURL and DirectURL are pure. A Client may be used
// by several goroutines at once as long as nobody changes its fields.
package wkd
