// Package storetest is the conformance suite for implementations of
// umbra/provider/store: every implementation's tests call Run and
// RunPersistence, and its fuzz target calls FuzzMailbox. The suite checks
// the rules of provider/store/docs/spec/store.md through the interface only, so it
// holds for SQLite and PostgreSQL alike.
//
// Subtests run in parallel, each on a store of its own; none depends on
// timing (queue times are passed in, never read from the clock).
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"umbra/provider/store"
)

// Run runs every conformance test. open must return a new, empty store
// and close it when t ends; closing a store twice must be harmless.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AccountLifecycle", testAccountLifecycle},
		{"AccountList", testAccountList},
		{"AccountKeyBackup", testKeyBackup},
		{"AccountActivateOnce", testActivateOnce},
		{"SignetChain", testSignetChain},
		{"SignetHistory", testSignetHistory},
		{"DeliverIdempotent", testDeliverIdempotent},
		{"DeliverConcurrent", testDeliverConcurrent},
		{"DeliverStreamed", testDeliverStreamed},
		{"DeliverStreamedConcurrent", testDeliverStreamedConcurrent},
		{"DeliverReaderFails", testDeliverReaderFails},
		{"DeliverSizeMismatch", testDeliverSizeMismatch},
		{"RedeliverUnread", testRedeliverUnread},
		{"PutStreamed", testPutStreamed},
		{"PutLargeSmall", testPutLargeSmall},
		{"PutReaderFails", testPutReaderFails},
		{"PutDeleteConflicts", testPutDeleteConflicts},
		{"DocumentValidation", testDocumentValidation},
		{"SeqConcurrent", testSeqConcurrent},
		{"ChangesPaging", testChangesPaging},
		{"PurgeDeliveries", testPurgeDeliveries},
		{"CollectTombstones", testCollectTombstones},
		{"OpenRead", testOpenRead},
		{"OpenChanged", testOpenChanged},
		{"QueueEnqueue", testEnqueue},
		{"QueueClaimExclusive", testClaimExclusive},
		{"QueueLeaseExpiry", testLeaseExpiry},
		{"QueueReschedule", testReschedule},
		{"QueueOrder", testQueueOrder},
		{"QueueDropList", testDropList},
		{"QueueRetry", testRetry},
		{"QueueEnqueueStreamed", testEnqueueStreamed},
		{"QueueEnqueueReaderFails", testEnqueueReaderFails},
		{"QueueEnqueueUnread", testEnqueueUnread},
		{"QueueEnqueueConcurrent", testEnqueueConcurrent},
		{"QueueOpenGone", testQueueOpenGone},
		{"RemoteSignets", testRemoteSignets},
		{"DeviceLifecycle", testDeviceLifecycle},
		{"DeviceValidation", testDeviceValidation},
		{"DeviceTouch", testDeviceTouch},
		{"DeviceIsolation", testDeviceIsolation},
		{"ChallengeSingleUse", testChallengeSingleUse},
		{"ChallengeRace", testChallengeRace},
		{"ChallengeExpiry", testChallengeExpiry},
		{"ChallengeValidation", testChallengeValidation},
		{"SessionLifecycle", testSessionLifecycle},
		{"SessionValidation", testSessionValidation},
		{"SessionRefresh", testSessionRefresh},
		{"SessionRefreshRace", testRefreshRace},
		{"Keylog", testKeylog},
		{"SessionRevocation", testRevocation},
		{"SessionIsolation", testSessionIsolation},
		{"SessionPurge", testSessionPurge},
		{"Cancelled", testCancelled},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 is the queue tests' clock: a fixed instant, so no test reads the
// real time for a queue decision.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func codeHash(code string) [32]byte { return sha256.Sum256([]byte(code)) }

// active creates an active paranoid account.
func active(t testing.TB, s store.Store, address string) {
	t.Helper()
	code := codeHash("code for " + address)
	ok(t, s.Accounts().AddInvited(t.Context(), address, code))
	ok(t, s.Accounts().Activate(t.Context(), address, code, store.ModeParanoid))
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// is fails unless err matches want.
func is(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func messageID(s string) store.MessageID { return sha256.Sum256([]byte(s)) }

// deliver delivers a message held in memory.
func deliver(ctx context.Context, m store.Mailbox, address string, id store.MessageID, data []byte, at time.Time) (string, bool, error) {
	return m.Deliver(ctx, address, id, bytes.NewReader(data), int64(len(data)), at)
}

// put stores a document held in memory.
func put(ctx context.Context, m store.Mailbox, address, docID, kind string, expectedRevision int64, data []byte) (store.Change, error) {
	return m.Put(ctx, address, docID, kind, expectedRevision, bytes.NewReader(data), int64(len(data)))
}

// ctxCancelled returns a context that has already ended.
func ctxCancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

func testCancelled(t *testing.T, s store.Store) {
	ctx := ctxCancelled(t)
	is(t, s.Accounts().AddInvited(ctx, "x@example.test", codeHash("x")), context.Canceled, "AddInvited with an ended context")
	_, err := s.Accounts().Get(t.Context(), "x@example.test")
	is(t, err, store.ErrNotFound, "Get after a cancelled AddInvited")
}

func testClosed(t *testing.T, s store.Store) {
	active(t, s, "x@example.test")
	ok(t, s.Close())
	_, err := s.Accounts().Get(t.Context(), "x@example.test")
	is(t, err, store.ErrClosed, "Get after Close")
	is(t, s.Accounts().AddInvited(t.Context(), "y@example.test", codeHash("y")), store.ErrClosed, "AddInvited after Close")
	_, _, err = deliver(t.Context(), s.Mailbox(), "x@example.test", messageID("m"), []byte("m"), t0)
	is(t, err, store.ErrClosed, "Deliver after Close")
	_, err = s.Sessions().ByAccess(t.Context(), codeHash("token"))
	is(t, err, store.ErrClosed, "ByAccess after Close")
	_, err = s.Challenges().Take(t.Context(), codeHash("challenge"))
	is(t, err, store.ErrClosed, "Take after Close")
	is(t, s.Checkpoint(t.Context()), store.ErrClosed, "Checkpoint after Close")
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func sig(address string, i int) []byte { return fmt.Appendf(nil, "user signet %d of %s", i, address) }
