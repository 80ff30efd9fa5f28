// Package dmime implements D/MIME, Umbra's layered message format
// (docs/spec/dmime.md): one RFC 5322 message for one recipient, split into
// chunks that each party can open only as far as DESIGN §2 allows.
//
//   - The author (A) and the recipient (R) read everything.
//   - The origin provider (O) reads the origin chunk: author address and
//     destination domain.
//   - The destination provider (D) reads the destination chunk: recipient
//     address and origin domain.
//   - Everyone sees sizes, the author's tree of chunk hashes, the origin
//     signature and the trace chunks.
//
// Seal turns MIME into D/MIME; SignOrigin adds the origin provider's
// signature; AppendTrace adds a hop record without breaking any signature;
// Open returns, per Role, exactly what that role may see. Everything streams:
// memory stays constant whatever the size of the message, because content
// is encrypted in fixed 64 KiB segments (spec §6).
//
// The package knows nothing of storage, networking or signets beyond
// signet.Fingerprint: the roles turn signets into Party values and look up
// keys through the callbacks in OpenOptions.
//
// Concurrency: every function is safe for concurrent use; none keeps state
// between calls. A single io.Reader or io.Writer passed in must not be used
// concurrently by the caller while the call runs.
package dmime
