package main

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"umbra/dnsrec"
	"umbra/provider"
)

func runServerRun(c *cmd) error {
	dir := dirFlag(c.flags)
	dnsServer := dnsFlag(c.flags)
	level := logLevelFlag(c.flags)
	db := dbFlag(c.flags)
	if _, err := c.parse(0, 0); err != nil {
		return err
	}
	lvl, err := logLevel(*level)
	if err != nil {
		return err
	}
	if err := checkDB(*db); err != nil {
		return err
	}
	var res *dnsrec.Resolver
	if *dnsServer != "" {
		if res, err = dnsResolver(*dnsServer); err != nil {
			return err
		}
	}
	log := newLogger(c.stderr, lvl)
	p, err := openProvider(*dir, func(cfg *provider.Config) {
		cfg.Logger = log
		if *db != "" {
			cfg.DB = *db
		}
		if res != nil {
			cfg.Resolver = res
		}
	})
	if err != nil {
		return err
	}
	// Catch the signals before announcing the addresses: whoever waits
	// for them may signal at once.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	p.SetMemoryLimit()
	if err := p.Start(); err != nil {
		return errors.Join(err, p.Close())
	}
	fmt.Fprintf(c.stdout, "serving %s\n", p.Domain())
	fmt.Fprintf(c.stdout, "dmtp     %s (TLS 1.3)\n", p.DMTPAddr())
	if d := p.DMAPAddr(); d != "" {
		fmt.Fprintf(c.stdout, "dmap     https://%s/dmap/v1/ (TLS 1.3)\n", d)
	}
	if m := p.MXAddr(); m != "" {
		fmt.Fprintf(c.stdout, "mx       %s (legacy SMTP, STARTTLS)\n", m)
	}
	if m := p.MetricsAddr(); m != "" {
		fmt.Fprintf(c.stdout, "metrics  http://%s/metrics\n", m)
	}
	<-ctx.Done()
	stop() // a second signal now kills the process
	log.Info("shutting down: finishing messages being received; a second signal stops at once")
	if err := p.Close(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
