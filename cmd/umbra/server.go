package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"umbra/provider"
)

// The operator's verbs for a provider (DESIGN §1): create its directory,
// run it, and manage its accounts and outbound queue. The management verbs
// open the provider's store directly, also while `server run` serves it
// from another process: SQLite in WAL mode serialises the two processes'
// writes with its file locks and a busy timeout.

func init() {
	register(verb{words: "server init", synopsis: "--domain D --dir DIR", run: runServerInit,
		help: `create a provider's directory: keys, TLS certificate, configuration

Creates DIR (mode 0700; it must be new or empty) and writes into it:
  pok.key      the primary organisation key (POK). It signs only the
               organisation signet: move it offline after this command.
  sok.key      the secondary organisation key (SOK): signs user signets
               and messages; the server needs it.
  enc.key      the organisation encryption key (ML-KEM-768+X25519).
  org.signet   the organisation signet, signed by the POK.
  tls.crt/key  the DMTP server's TLS certificate: self-signed for
               --hostname, or copies of --tls-cert and --tls-key. Peers
               trust it through the pin in the signet and the DNS record,
               so no certificate authority is needed. It is copied rather
               than referenced so that a renewal elsewhere cannot change
               the pinned key behind the record's back.
  umbra.conf   the configuration, every setting documented.
Then prints every DNS record to publish, with what each is for, and what
to do next. On failure DIR is left empty.`})
	register(verb{words: "server run", synopsis: "--dir DIR", run: runServerRun,
		help: `run a provider: DMTP over TLS 1.3, the outbound queue, metrics

Serves the provider in DIR (see umbra server init) until SIGINT or SIGTERM,
then shuts down gracefully: it stops accepting connections and lets
messages being received finish (up to 30 seconds); a second signal stops at
once. Prints the listening addresses; logs go to stderr (log/slog text).
--dns overrides the configuration's dns setting, --db its db setting: a
postgres:// URL serves the domain from a PostgreSQL database, which
several nodes (each with a copy of DIR and its own node name) may share.`})
	register(verb{words: "server migrate", synopsis: "--dir DIR | --db URL", run: runServerMigrate,
		help: `bring the store's schema up to date, then exit

The store is the one --db names (a postgres:// URL), else the one DIR's
configuration names (its db setting; empty: the embedded database in
DIR/data). server run does the same at its start; this verb lets an
operator upgrade a shared PostgreSQL database once, before restarting the
nodes, and see the versions. Prints the schema version before and after.`})
	register(verb{words: "server migrate-store", synopsis: "--from DIR --to URL", run: runServerMigrateStore,
		help: `move an embedded provider's store to PostgreSQL

Copies every account, signet, document, queue entry, device, session and
log record of the embedded store in DIR/data into the PostgreSQL database
at URL (its schema is created first), then compares the two message by
message: each document's identity, revision, sequence number and SHA-256
of its data, each queue entry and log record likewise, and every table's
row count. Stop umbra server run on DIR first. An interrupted copy
resumes where it stopped when run again (rows already copied are
skipped). Afterwards set db = URL in DIR/umbra.conf; the embedded store
is left as it was, as a backup.`})
	register(verb{words: "server user add", synopsis: "ADDRESS --dir DIR", run: runUserAdd,
		help: `invite a user: create the account and print its invitation code

The code is shown only this once; the provider keeps only its hash. The
user redeems it with umbra account create ADDRESS --invite CODE, which
makes the keys on their device and completes the account over DMAP.
Works while the server runs.`})
	register(verb{words: "server user list", synopsis: "--dir DIR", run: runUserList,
		help: `list the accounts: address, state, custody mode, creation time`})
	register(verb{words: "server user disable", synopsis: "ADDRESS --dir DIR", run: runUserDisable,
		help: `disable an account for good

A disabled account receives no mail and cannot sign in; the address cannot
be invited again. Works while the server runs.`})
	register(verb{words: "server queue list", synopsis: "--dir DIR", run: runQueueList,
		help: `list the outbound queue: messages waiting for another domain

Shows each entry's id, destination domain, size, age, delivery attempts,
next attempt and the last error the destination or the network gave.`})
	register(verb{words: "server queue retry", synopsis: "ID --dir DIR", run: runQueueRetry,
		help: `make a queue entry due now instead of at its next attempt

An entry held by a relay worker is released to be claimed again. A waiting
entry is queued afresh (it gets a new id, and its attempt count and age
start again, so it has the full queue_max_age before it bounces).`})
	register(verb{words: "server log", synopsis: "--dir DIR", run: runServerLog,
		help: `show the domain's transparency log: its signed checkpoint and key

Every signet this provider certifies is appended to an append-only Merkle
log first (docs/spec/keylog.md). Prints the log's verifier key, its size,
the current signed checkpoint and, for each record, its index, the
signet's address and fingerprint. Works while the server runs.`})
	register(verb{words: "server queue drop", synopsis: "ID --dir DIR", run: runQueueDrop,
		help: `remove an entry from the outbound queue without delivering it

The author is not notified; the message is gone.`})
}

// opTimeout bounds one management verb's work on the store, including
// waiting for the running server's write lock.
const opTimeout = 30 * time.Second

func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", "", "the provider's directory, as made by umbra server init (required)")
}

// openProvider opens the provider in dir without starting it, after
// checking that dir is a provider directory at all (provider.Open would
// otherwise report a missing file only).
func openProvider(dir string, override func(*provider.Config)) (*provider.Provider, error) {
	if dir == "" {
		return nil, usageErrorf("--dir is required")
	}
	if _, err := os.Stat(filepath.Join(dir, provider.ConfigFile)); err != nil {
		return nil, fmt.Errorf("%s is not a provider directory (%w); create one with umbra server init", dir, err)
	}
	return provider.Open(dir, override)
}

// withProvider runs fn on the provider in dir, closing it afterwards.
func withProvider(dir string, fn func(ctx context.Context, p *provider.Provider) error) error {
	p, err := openProvider(dir, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err = fn(ctx, p)
	return errors.Join(err, p.Close())
}
