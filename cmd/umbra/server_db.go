package main

import (
	"context"
	"flag"
	"fmt"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ncruces/go-sqlite3/driver"

	"umbra/provider"
	"umbra/provider/store/postgres"
	"umbra/provider/store/sqlite"
)

// The verbs and flags that choose a provider's store.

func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "", "the store: a postgres:// `URL` of a PostgreSQL database (default: the configuration's db setting)")
}

// checkDB refuses a --db value that is not a PostgreSQL URL.
func checkDB(db string) error {
	if db != "" && !postgres.IsURL(db) {
		return usageErrorf("--db %q: want a postgres:// URL", db)
	}
	return nil
}

func runServerMigrate(c *cmd) error {
	dir := dirFlag(c.flags)
	db := dbFlag(c.flags)
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	if err := checkDB(*db); err != nil {
		return err
	}
	if *db == "" {
		if *dir == "" {
			return usageErrorf("--dir or --db is required")
		}
		cfg, err := provider.ReadConfig(*dir)
		if err != nil {
			return err
		}
		*db = cfg.DB
	}
	if *db == "" {
		// The embedded store migrates when it opens.
		st, err := provider.OpenStore(*dir, "")
		if err != nil {
			return err
		}
		if err := st.Close(); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "embedded store of %s: up to date\n", *dir)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	from, to, err := postgres.Migrate(ctx, *db)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "postgresql store: schema version %d → %d\n", from, to)
	return nil
}

func runServerMigrateStore(c *cmd) error {
	from := c.flags.String("from", "", "the embedded provider's directory, as made by umbra server init (required)")
	to := c.flags.String("to", "", "the PostgreSQL database, a postgres:// `URL` (required)")
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usageErrorf("--from and --to are required")
	}
	if err := checkDB(*to); err != nil {
		return err
	}
	if _, err := provider.ReadConfig(*from); err != nil {
		return fmt.Errorf("%s is not a provider directory: %w", *from, err)
	}
	// Opening the embedded store brings its schema up to date; then it
	// is read through a read-only connection of its own.
	st, err := provider.OpenStore(*from, "")
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	src, err := driver.Open("file:" + filepath.Join(*from, provider.DataDir, sqlite.FileName) + "?mode=ro")
	if err != nil {
		return fmt.Errorf("open the embedded store: %w", err)
	}
	defer src.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dst, err := postgres.Open(ctx, *to)
	if err != nil {
		return err
	}
	defer dst.Close()
	err = dst.Import(ctx, src, func(table string, rows int64) {
		fmt.Fprintf(c.stdout, "copied %-15s %d rows\n", table, rows)
	})
	if err != nil {
		return fmt.Errorf("%w\nrun the same command again to resume", err)
	}
	v, err := dst.Verify(ctx, src)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "verified: %d rows; %d accounts, %d documents (message by message), %d queue entries, %d log records identical\n",
		v.Rows, v.Accounts, v.Documents, v.QueueEntries, v.KeylogRecords)
	fmt.Fprintf(c.stdout, "next: set db = <the URL> in %s, then umbra server run --dir %s\n",
		filepath.Join(*from, provider.ConfigFile), *from)
	return nil
}
