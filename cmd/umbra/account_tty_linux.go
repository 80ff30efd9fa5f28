package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// noEcho turns the terminal's echo off while a password is typed, when r
// is a terminal (termios(3)); restore puts the old mode back. For anything
// else (a pipe, a file, a test's reader) it does nothing and ok is false.
func noEcho(r io.Reader) (restore func(), ok bool) {
	f, isFile := r.(*os.File)
	if !isFile {
		return func() {}, false
	}
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}, false // not a terminal
	}
	old := *t
	t.Lflag &^= unix.ECHO
	if unix.IoctlSetTermios(fd, unix.TCSETS, t) != nil {
		return func() {}, false
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, &old) }, true
}
