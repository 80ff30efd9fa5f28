package postgres

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/ratelimit"
)

// Rate limits kept in the database. A limit on guessing (failed DMAP
// logins per client address, per device key, key-backup passwords per
// account) kept in each node's memory would let a guesser multiply it by
// the number of nodes. RateBuckets keeps its token buckets in the table
// rate_buckets instead, updated in one atomic statement per event.

// rateTimeout bounds one statement of RateBuckets: a limit check must not
// hold a login for long when the database is slow.
const rateTimeout = 2 * time.Second

// RateBuckets is a ratelimit.Buckets in the database, shared by every
// node of the store. If the database fails, it falls back to a bucket in
// this process's memory (logged), so that a limit still holds on each
// node and logins do not fail with the database's hiccups.
type RateBuckets struct {
	s     *Store
	name  string
	lim   ratelimit.Limit
	now   func() time.Time
	local *ratelimit.Limiter
	log   *slog.Logger
}

var _ ratelimit.Buckets = (*RateBuckets)(nil)

// RateBuckets returns the shared buckets of the limit name (now: the
// clock, time.Now if nil; log: where database failures go).
func (s *Store) RateBuckets(name string, l ratelimit.Limit, now func() time.Time, log *slog.Logger) *RateBuckets {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &RateBuckets{s: s, name: name, lim: l, now: now, local: ratelimit.New(l, now), log: log}
}

// Wait returns 0 if key may try now, else how long until it may.
func (r *RateBuckets) Wait(key string) time.Duration {
	if r.lim.Burst < 0 {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), rateTimeout)
	defer cancel()
	now := r.now().UnixNano()
	var tokens float64
	err := r.s.row(ctx, `SELECT least($3::float8, tokens + ($4 - at)::float8 / $5) FROM rate_buckets WHERE name = $1 AND key = $2`,
		r.name, []byte(key), float64(r.lim.Burst), now, float64(r.lim.Every)).Scan(&tokens)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0 // never counted, or refilled and swept
	case err != nil:
		r.log.Error("rate limit: read the shared bucket; using this node's", "limit", r.name, "err", err)
		return r.local.Wait(key)
	case tokens >= 1:
		return 0
	}
	return time.Duration((1 - tokens) * float64(r.lim.Every))
}

// Take counts one event against key: the bucket refilled up to now, one
// token taken (not below 0), in one statement, so that events counted at
// once on several nodes are all counted.
func (r *RateBuckets) Take(key string) {
	if r.lim.Burst < 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), rateTimeout)
	defer cancel()
	now := r.now().UnixNano()
	burst, every := float64(r.lim.Burst), float64(r.lim.Every)
	_, err := r.s.pool.Exec(ctx, `
		WITH v AS (SELECT $3::float8 AS burst, $4::bigint AS now, $5::float8 AS every)
		INSERT INTO rate_buckets AS b (name, key, tokens, at, full_at)
		SELECT $1, $2, v.burst - 1, v.now, v.now + v.every::bigint FROM v
		ON CONFLICT (name, key) DO UPDATE SET
			tokens = greatest(least($3::float8, b.tokens + greatest($4 - b.at, 0)::float8 / $5) - 1, 0),
			at = greatest(b.at, $4),
			full_at = greatest(b.at, $4) + ((
				$3::float8 - greatest(least($3::float8, b.tokens + greatest($4 - b.at, 0)::float8 / $5) - 1, 0)
			) * $5)::bigint`,
		r.name, []byte(key), burst, now, every)
	if err != nil {
		r.log.Error("rate limit: count in the shared bucket; counting in this node's", "limit", r.name, "err", err)
		r.local.Take(key)
	}
}
