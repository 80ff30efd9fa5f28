package ratelimit

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLogHandler: a flood of one INFO client fault is cut to the burst,
// then one line per Every carrying how many were dropped; another message,
// records that are not client faults and WARN are not affected; derived
// loggers share the limit.
func TestLogHandler(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1e9, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var out bytes.Buffer
	h := NewLogHandler(slog.NewTextHandler(&out, nil), Limit{Burst: 3, Every: time.Second}, clock)
	log := slog.New(h)
	conn := log.With("listener", "dmtp")
	for i := range 1000 {
		conn.Info("client sent garbage", "n", i, ClientFault)
		log.Debug("not enabled", ClientFault)
		log.Info("delivered", "n", i)
	}
	log.Info("another fault", ClientFault)
	for range 5 {
		log.Warn("disk almost full", ClientFault)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	log.Info("client sent garbage", "n", 1000, ClientFault)

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	count := func(s string) int {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, s) {
				n++
			}
		}
		return n
	}
	if n := count("client sent garbage"); n != 4 {
		t.Errorf("%d lines of the flood, want the burst of 3 and one after a second:\n%s", n, out.String())
	}
	if !strings.Contains(lines[len(lines)-1], "n=1000 fault=client suppressed=997") {
		t.Errorf("the line after the flood: %s", lines[len(lines)-1])
	}
	if count("another fault") != 1 || count("disk almost full") != 5 || count("not enabled") != 0 || count("delivered") != 1000 {
		t.Errorf("other records:\n%s", out.String())
	}
}
