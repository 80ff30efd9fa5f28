module umbra

go 1.26.0

require (
	github.com/cosmos/go-bip39 v1.0.0 // indirect
	github.com/emersion/go-message v0.18.2 // indirect
	github.com/miekg/dns v1.1.73 // indirect
	github.com/ncruces/go-sqlite3 v0.37.0 // indirect
	github.com/ncruces/go-sqlite3-wasm/v6 v6.5.35401 // indirect
	github.com/ncruces/julianday v1.0.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
