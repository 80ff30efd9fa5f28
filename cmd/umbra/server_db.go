package main

import (
	"context"
	"flag"
	"fmt"

	"umbra/provider"
	"umbra/provider/store/postgres"
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
