// Package dmap implements DMAP, the protocol between a user's devices (the
// bridge) and the user's own provider (docs/spec/dmap.md; DESIGN §6): the
// HTTP handlers of the provider side (Handler, over a Backend the provider
// supplies) and the device side (Client). It knows nothing of storage: the
// Backend keeps accounts, devices, sessions and documents, and the handler
// holds no state but its rate-limit buckets.
//
// What the protocol guarantees:
//   - The password and the private keys never leave the device. Login is an
//     Ed25519 signature by a device key over a single-use server challenge
//     bound to the provider's domain, the address and the key; in cautious
//     mode the key backup is fetched with a signature by a key derived from
//     the password with Argon2id, never with the password.
//   - Tokens are 32 random bytes; the Backend sees only their SHA-256, so a
//     copy of its database cannot be replayed. Access tokens live 15 minutes
//     by default; a revoked device's tokens stop at the next request.
//   - Every authenticated handler takes the account from the session alone;
//     no parameter names it.
//   - Every body is size-limited before it is read, every JSON request is
//     decoded strictly, and every error is JSON with a stable code.
//
// Files: handler.go (options, routes, errors out, bodies in), auth.go
// (challenges, login, refresh, tokens), account.go (register, enroll,
// devices, rotate), keybackup.go (cautious mode), docs.go (the sync feed),
// send.go (send, signet look-ups, the log), tunnel.go (look-up tunnels),
// decode.go and strictjson.go (request decoders), params.go (URL and
// header values), proof.go (signed messages, token hashes, the backup
// access key), server.go (TLS set-up), client*.go (the Client), backend.go and wire.go
// (types).
//
// Concurrency: the handler is safe for concurrent use and calls the Backend
// concurrently. A Client is safe for concurrent use; it serialises token
// refreshes so that each refresh token is used once.
package dmap
