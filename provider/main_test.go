package provider_test

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"umbra/provider"
	"umbra/provider/store/postgres/pgtest"
)

// childEnv names the provider directory a re-executed test binary serves
// (the durability tests kill such children with SIGKILL); leaseEnv, if
// set, is the child's Config.ClaimLease.
const (
	childEnv = "UMBRA_PROVIDER_CHILD"
	leaseEnv = "UMBRA_PROVIDER_CHILD_LEASE"
)

// pg is the PostgreSQL cluster of the tests of a shared store, started by
// the first of them.
var pg = new(pgtest.Cluster)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir))
	}
	os.Exit(pgtest.Main(m, pg))
}

// runChild serves the provider in dir, as `umbra server run` does, until
// SIGTERM or SIGINT.
func runChild(dir string) int {
	p, err := provider.Open(dir, func(c *provider.Config) {
		fastRetries(c)
		c.ClaimLease, _ = time.ParseDuration(os.Getenv(leaseEnv)) // 0, the default, when unset
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	if err != nil {
		slog.Error("child provider", "err", err)
		return 1
	}
	p.SetMemoryLimit()
	if err := p.Start(); err != nil {
		slog.Error("child provider", "err", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	if err := p.Close(); err != nil {
		slog.Error("child provider close", "err", err)
		return 1
	}
	return 0
}
