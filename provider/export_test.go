package provider

// SetSealHook makes the sealing of legacy mail call f first, and fail
// with its error (tests inject sealing failures with it).
func SetSealHook(p *Provider, f func(rcpt string) error) { p.sealHook = f }
