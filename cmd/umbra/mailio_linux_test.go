package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// On a terminal (a pseudo-terminal here), the progress line is one line
// redrawn in place; a message clears it first, and done ends it.
func TestProgressLineTerminal(t *testing.T) {
	t.Parallel()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	// Raw output: what is written arrives as written (no LF → CRLF).
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Oflag &^= unix.OPOST
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}

	pl := newProgressLine(tty, time.Hour) // the interval is for pipes only
	if !pl.tty {
		t.Fatal("a pseudo-terminal is not taken for a terminal")
	}
	pl.show("import", 1, 1e6, 1, 4, 0)
	time.Sleep(150 * time.Millisecond) // past the redraw interval
	pl.show("import", 2, 2e6, 2, 4, 0)
	pl.say("import: skipped %s: %s", "x", "why")
	pl.done()
	want := "\r\x1b[Kimport: 1 messages, 1.0 MB, "
	buf := make([]byte, 4096)
	var got string
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(got, "why\n") && time.Now().Before(deadline); {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += string(buf[:n])
	}
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "\r\x1b[Kimport: 2 messages, 2.0 MB, ") ||
		!strings.Contains(got, ", 50%, ETA ") || !strings.HasSuffix(got, "\r\x1b[Kimport: skipped x: why\n") {
		t.Errorf("terminal output %q", got)
	}
}
