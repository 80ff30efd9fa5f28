// Package provider is a domain's mail server (DESIGN §1): it holds the
// organisation keys, accepts dark mail from other domains over DMTP and
// stores it for its users without being able to read it, relays its own
// users' mail through a durable outbound queue, issues user signets and
// answers signet queries.
//
// Protocol details live in dmtp (the wire) and dmime (the message format);
// storage lives behind provider/store. Data flows one way: listener →
// dmtp → this package → store.
//
// Concurrency: a Provider is safe for concurrent use. Each DMTP connection
// has its own session goroutine; the relay runs a fixed number of queue
// workers; all shared state is in the store or behind the Provider's
// mutex-guarded caches. Close stops the listeners, lets in-flight DATA
// finish, stops the workers and closes the store.
package provider
