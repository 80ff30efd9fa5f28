// Package signet implements Umbra's signets: the key certificates of the
// Dark Internet Mail Environment, reduced to keys, identifiers, endpoints,
// validity and signatures (docs/spec/signet.md).
//
// There are two kinds. An organisation signet names a domain, its primary
// organisation key (POK), its secondary organisation keys (SOK, each with
// permission bits), the organisation's encryption key, its endpoints and
// validity, and is self-signed by the POK. A user signet names an address,
// the user's signing, encryption and recovery keys and validity; it carries a
// chain-of-custody signature (by the previous signet's signing key, or its
// recovery key when the chain restarts), the user's self-signature and the
// organisation's signature by the POK or a SOK allowed to sign signets. A
// user signet without the organisation's signature is a signing request.
//
// Encoding is canonical: each value has exactly one encoding, and every
// signature and fingerprint is computed over the exact bytes received, never
// over a re-serialisation. Parsers reject unknown fields, duplicates,
// out-of-order fields, wrong lengths, trailing bytes and anything over
// MaxSize.
//
// Values are immutable after parsing or construction and safe for concurrent
// use.
package signet
