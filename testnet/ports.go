package testnet

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// A provider's ports must be known before the organisation signet and DNS
// record that publish them are made, and a restarted provider binds them
// again, so testnet picks them itself instead of binding port 0. They are
// chosen below the kernel's ephemeral range (Linux: 32768–60999), so that
// while a provider is down no outgoing connection can be given its port.
//
// A port that was free when picked is not bound until the provider starts,
// so two tests, in this process or in another test binary of the same `go
// test ./...` run, could pick the same one. Each picked port is therefore
// reserved for the life of the process: in a map for this process, and by
// an exclusive flock on a file named for the port for the others (the lock
// goes with the process, however it ends).
var reserved struct {
	sync.Mutex
	ports map[int]*os.File
}

// freePort picks and reserves a free loopback port.
func freePort() (int, error) {
	dir := filepath.Join(os.TempDir(), "umbra-testnet-ports")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("testnet: port reservations: %w", err)
	}
	reserved.Lock()
	defer reserved.Unlock()
	if reserved.ports == nil {
		reserved.ports = make(map[int]*os.File)
	}
	var err error
	for range 200 {
		port := 20000 + mrand.IntN(12000)
		if reserved.ports[port] != nil {
			continue
		}
		var f *os.File
		if f, err = os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			return 0, fmt.Errorf("testnet: port reservation: %w", err)
		}
		if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue // another process holds it
			}
			return 0, fmt.Errorf("testnet: port reservation: %w", err)
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
			f.Close()
			continue
		}
		ln.Close()
		reserved.ports[port] = f
		return port, nil
	}
	return 0, fmt.Errorf("testnet: no free port: %w", err)
}
