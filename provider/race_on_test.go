//go:build race

package provider_test

// durabilityMessages is smaller under the race detector, which slows the
// whole pipeline about tenfold; the property tested is the same.
const durabilityMessages = 300
