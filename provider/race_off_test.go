//go:build !race

package provider_test

// durabilityMessages is the stream the issue asks for.
const durabilityMessages = 2000
