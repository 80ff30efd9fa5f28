package connguard

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestRateReader: a reader that keeps the rate reads to the end; one that
// stalls is cut at its deadline with ErrTooSlow, after the grace period
// and not before.
func TestRateReader(t *testing.T) {
	t.Parallel()
	rate := MinRate{BytesPerSec: 1000, Grace: 200 * time.Millisecond}

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		for range 10 { // 100 bytes every 20 ms: 5000 bytes/s
			b.Write(make([]byte, 100))
			time.Sleep(20 * time.Millisecond)
		}
		b.Close()
	}()
	rr := NewRateReader(a, a.SetReadDeadline, rate, time.Time{})
	if n, err := io.Copy(io.Discard, rr); err != nil || n != 1000 || rr.Count() != 1000 {
		t.Fatalf("fast enough: %d bytes, %v", n, err)
	}

	c, d := net.Pipe()
	defer c.Close()
	defer d.Close()
	go d.Write(make([]byte, 10)) // then nothing
	start := time.Now()
	rr = NewRateReader(c, c.SetReadDeadline, rate, time.Time{})
	_, err := io.Copy(io.Discard, rr)
	took := time.Since(start)
	if !errors.Is(err, ErrTooSlow) {
		t.Fatalf("stalled: %v, want ErrTooSlow", err)
	}
	// Byte 11 is due at 200 ms + 11 ms.
	if took < 200*time.Millisecond || took > 2*time.Second {
		t.Fatalf("stalled reader cut after %v, want about 211ms", took)
	}
	if _, err2 := rr.Read(make([]byte, 1)); !errors.Is(err2, ErrTooSlow) {
		t.Fatalf("error did not stick: %v", err2)
	}

	// The overall deadline applies without a rate.
	e, f := net.Pipe()
	defer e.Close()
	defer f.Close()
	rr = NewRateReader(e, e.SetReadDeadline, MinRate{BytesPerSec: -1}, time.Now().Add(100*time.Millisecond))
	if _, err := rr.Read(make([]byte, 1)); !errors.Is(err, ErrTooSlow) {
		t.Fatalf("past the overall deadline: %v", err)
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	b := NewBudget(100)
	if err := b.Take(60); err != nil {
		t.Fatal(err)
	}
	if err := b.Take(41); !errors.Is(err, ErrBudget) {
		t.Fatalf("over the budget: %v", err)
	}
	if err := b.Take(40); err != nil {
		t.Fatal(err)
	}
	b.Give(100)
	if now, peak := b.Used(); now != 0 || peak != 100 {
		t.Fatalf("used %d, peak %d", now, peak)
	}
	var unlimited *Budget
	if err := unlimited.Take(1 << 40); err != nil || NewBudget(0) != nil {
		t.Fatal("a nil budget is not unlimited")
	}
}
