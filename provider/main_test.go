package provider_test

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"umbra/provider"
)

// childEnv names the provider directory a re-executed test binary serves
// (the durability tests kill such children with SIGKILL).
const childEnv = "UMBRA_PROVIDER_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir))
	}
	os.Exit(m.Run())
}

// runChild serves the provider in dir, as `umbra server run` does, until
// SIGTERM or SIGINT.
func runChild(dir string) int {
	p, err := provider.Open(dir, func(c *provider.Config) {
		fastRetries(c)
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
