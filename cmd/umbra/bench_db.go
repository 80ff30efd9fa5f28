package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL runs of `umbra bench dmtp --db`: each in a schema of its
// own, made for the run in the database --db names and dropped after it,
// so that one invocation compares the embedded store, one node and
// several nodes on empty stores.

// parseNodes parses --nodes: a comma-separated list of node counts.
func parseNodes(s string) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usageErrorf("--nodes %q: want node counts such as 1,2", s)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// benchSchema makes an empty schema in db's database and returns db's URL
// with that schema as its search_path, and a function that drops it.
func benchSchema(ctx context.Context, db string, run int) (string, func(), error) {
	name := fmt.Sprintf("umbra_bench_%d_%d", os.Getpid(), run)
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return "", nil, fmt.Errorf("bench: connect to %s: %w", redactURL(db), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("bench: create schema %s: %w", name, err)
	}
	drop := func() {
		ctx := context.WithoutCancel(ctx)
		conn, err := pgx.Connect(ctx, db)
		if err == nil {
			_, err = conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`)
			conn.Close(ctx)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop schema %s: %v\n", name, err)
		}
	}
	u, err := url.Parse(db)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("bench: --db: %w", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// redactURL is db without its password, for messages.
func redactURL(db string) string {
	if u, err := url.Parse(db); err == nil {
		return u.Redacted()
	}
	return "the --db URL"
}
