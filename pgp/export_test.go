package pgp

// NewGnuPG lets tests outside the package (package pgp_test) drive GnuPG.
var NewGnuPG = newGnuPG
