//go:build !linux

package main

import "io"

// noEcho is a no-op where the termios calls are not wired up: typed
// passwords are echoed there; use --password-file.
func noEcho(io.Reader) (restore func(), ok bool) { return func() {}, false }
