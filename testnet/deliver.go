package testnet

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Deliver seals n messages from one of nd's accounts to another user and
// submits them through nd's provider, on every CPU at once, as the
// author's bridge and provider would: they land in the recipient's
// mailbox (at once for a local recipient, through the relay queue for a
// remote one). size gives the body size of message i (BenchMIME).
func (nd *Node) Deliver(ctx context.Context, from *User, to *User, toNode *Node, n int, size func(i int) int) error {
	if nd.Provider == nil {
		return fmt.Errorf("testnet: %s is not running in-process", nd.Domain)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range runtime.GOMAXPROCS(0) * 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				msg, err := Seal(from, nd, to, toNode, BenchMIME(i, size(i)))
				if err == nil {
					_, err = nd.Provider.Submit(ctx, from.Address, msg)
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("testnet: message %d: %w", i, err):
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
