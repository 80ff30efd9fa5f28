//go:build !race

package dmime

const raceEnabled = false
