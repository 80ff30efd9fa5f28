package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"umbra/provider/store"
)

func testAccountLifecycle(t *testing.T, s store.Store) {
	ctx, a := t.Context(), s.Accounts()
	addr, code := "alice@example.test", codeHash("invitation")
	before := time.Now().Add(-time.Second)
	ok(t, a.AddInvited(ctx, addr, code))
	after := time.Now().Add(time.Second)
	acc, err := a.Get(ctx, addr)
	ok(t, err)
	if acc.Address != addr || acc.State != store.StateInvited || acc.Mode != "" || acc.KeyBackup != nil {
		t.Fatalf("new account: %+v", acc)
	}
	if acc.Created.Before(before) || acc.Created.After(after) {
		t.Fatalf("created %v, not between %v and %v", acc.Created, before, after)
	}
	is(t, a.AddInvited(ctx, addr, codeHash("other")), store.ErrExists, "AddInvited twice")

	is(t, a.Activate(ctx, addr, codeHash("wrong"), store.ModeCautious), store.ErrBadCode, "Activate with a wrong code")
	wrong := code
	wrong[31] ^= 1 // differs only in the last byte
	is(t, a.Activate(ctx, addr, wrong, store.ModeCautious), store.ErrBadCode, "Activate with a code one bit off")
	is(t, a.Activate(ctx, addr, code, "trustful"), store.ErrInvalid, "Activate in an unknown mode")
	if acc, _ := a.Get(ctx, addr); acc.State != store.StateInvited {
		t.Fatalf("after failed activations: state %s", acc.State)
	}

	ok(t, a.Activate(ctx, addr, code, store.ModeCautious))
	acc, err = a.Get(ctx, addr)
	ok(t, err)
	if acc.State != store.StateActive || acc.Mode != store.ModeCautious {
		t.Fatalf("activated: %+v", acc)
	}
	is(t, a.Activate(ctx, addr, code, store.ModeCautious), store.ErrState, "Activate twice")

	ok(t, a.Disable(ctx, addr))
	ok(t, a.Disable(ctx, addr)) // no-op
	acc, err = a.Get(ctx, addr)
	ok(t, err)
	if acc.State != store.StateDisabled || acc.Mode != store.ModeCautious {
		t.Fatalf("disabled: %+v", acc)
	}
	is(t, a.Activate(ctx, addr, code, store.ModeCautious), store.ErrState, "Activate a disabled account")
	is(t, a.AddInvited(ctx, addr, code), store.ErrExists, "AddInvited over a disabled account")

	// An invited account can be disabled too, and then never activated.
	bob, bobCode := "bob@example.test", codeHash("bob")
	ok(t, a.AddInvited(ctx, bob, bobCode))
	ok(t, a.Disable(ctx, bob))
	is(t, a.Activate(ctx, bob, bobCode, store.ModeParanoid), store.ErrState, "Activate a disabled invitation")

	_, err = a.Get(ctx, "nobody@example.test")
	is(t, err, store.ErrNotFound, "Get unknown")
	is(t, a.Disable(ctx, "nobody@example.test"), store.ErrNotFound, "Disable unknown")
	is(t, a.Activate(ctx, "nobody@example.test", code, store.ModeParanoid), store.ErrNotFound, "Activate unknown")
	for _, bad := range []string{"", "alice", "alice@Example.test", "al ice@example.test", "alice@example"} {
		is(t, a.AddInvited(ctx, bad, code), store.ErrInvalid, "AddInvited "+bad)
		_, err := a.Get(ctx, bad)
		is(t, err, store.ErrInvalid, "Get "+bad)
	}
}

func testAccountList(t *testing.T, s store.Store) {
	ctx, a := t.Context(), s.Accounts()
	if list, err := a.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("empty store: %v, %v", list, err)
	}
	for _, addr := range []string{"carol@example.test", "alice@example.test", "bob@example.org"} {
		ok(t, a.AddInvited(ctx, addr, codeHash(addr)))
	}
	ok(t, a.Activate(ctx, "carol@example.test", codeHash("carol@example.test"), store.ModeCautious))
	ok(t, a.SetKeyBackup(ctx, "carol@example.test", []byte("backup")))
	list, err := a.List(ctx)
	ok(t, err)
	want := []string{"alice@example.test", "bob@example.org", "carol@example.test"}
	if len(list) != len(want) {
		t.Fatalf("List: %d accounts, want %d", len(list), len(want))
	}
	for i, acc := range list {
		if acc.Address != want[i] || acc.KeyBackup != nil || acc.Created.IsZero() {
			t.Fatalf("List[%d] = %+v, want %s without key backup", i, acc, want[i])
		}
	}
	if list[2].State != store.StateActive || list[0].State != store.StateInvited {
		t.Fatalf("List states: %+v", list)
	}
}

func testKeyBackup(t *testing.T, s store.Store) {
	ctx, a := t.Context(), s.Accounts()
	cautious, paranoid := "c@example.test", "p@example.test"
	ok(t, a.AddInvited(ctx, cautious, codeHash("c")))
	is(t, a.SetKeyBackup(ctx, cautious, []byte("x")), store.ErrState, "SetKeyBackup on an invited account")
	ok(t, a.Activate(ctx, cautious, codeHash("c"), store.ModeCautious))
	active(t, s, paranoid)
	is(t, a.SetKeyBackup(ctx, paranoid, []byte("x")), store.ErrState, "SetKeyBackup on a paranoid account")
	is(t, a.SetKeyBackup(ctx, "n@example.test", []byte("x")), store.ErrNotFound, "SetKeyBackup on no account")

	backup := bytes.Repeat([]byte{0xA5}, 4096)
	ok(t, a.SetKeyBackup(ctx, cautious, backup))
	acc, err := a.Get(ctx, cautious)
	ok(t, err)
	if !bytes.Equal(acc.KeyBackup, backup) {
		t.Fatalf("key backup not kept: %d bytes", len(acc.KeyBackup))
	}
	is(t, a.SetKeyBackup(ctx, cautious, make([]byte, store.MaxKeyBackupSize+1)), store.ErrInvalid, "oversize key backup")
	ok(t, a.SetKeyBackup(ctx, cautious, make([]byte, store.MaxKeyBackupSize))) // a full vault and its framing
	ok(t, a.SetKeyBackup(ctx, cautious, nil))
	acc, err = a.Get(ctx, cautious)
	ok(t, err)
	if acc.KeyBackup != nil {
		t.Fatalf("key backup not removed: %d bytes", len(acc.KeyBackup))
	}
	ok(t, a.Disable(ctx, cautious))
	is(t, a.SetKeyBackup(ctx, cautious, backup), store.ErrState, "SetKeyBackup on a disabled account")
}

// testActivateOnce: an invitation code works once, even when many
// registrations race with it.
func testActivateOnce(t *testing.T, s store.Store) {
	ctx, a := t.Context(), s.Accounts()
	addr, code := "race@example.test", codeHash("race")
	ok(t, a.AddInvited(ctx, addr, code))
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = a.Activate(ctx, addr, code, store.ModeParanoid) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		default:
			is(t, err, store.ErrState, "losing Activate")
		}
	}
	if wins != 1 {
		t.Fatalf("%d activations succeeded, want 1", wins)
	}
}
