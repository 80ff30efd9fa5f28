package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"umbra/provider/store"
)

// FuzzLogin drives a fresh account of s through a sequence of device,
// session and challenge operations decoded from the input, and checks
// every answer against a model of the rules of docs/spec/store.md §9–§11:
// unique ids and keys, revocation that is final and ends sessions,
// single-use refresh tokens whose reuse ends the device's sessions,
// single-use challenges, last seen never moving back.
// rawID and rawName are a client-chosen device id and name, the outside
// input: each must be accepted exactly when store.CheckDeviceID or
// store.CheckDeviceName accepts it.
func FuzzLogin(f *testing.F, s store.Store) {
	f.Add([]byte{0, 0, 0, 3, 0, 0, 5, 0, 0, 4, 0, 0, 5, 0, 1, 2, 0, 0, 5, 0, 1}, "dev-1", "Phone")
	f.Add([]byte{0, 2, 6, 1, 2, 4, 0, 1, 1, 8, 1, 3, 8, 1, 1, 8, 1, 9}, "x", "a\x00b")
	f.Add([]byte{6, 1, 0, 6, 1, 0, 7, 1, 0, 7, 1, 0, 7, 2, 0}, "", "")
	f.Add([]byte{0, 0, 0, 0, 1, 1, 3, 0, 0, 3, 1, 0, 2, 0, 0, 4, 0, 0, 4, 0, 1, 5, 0, 1}, "a/b", strings.Repeat("n", 65))
	var accounts atomic.Int64
	f.Fuzz(func(t *testing.T, ops []byte, rawID, rawName string) {
		addr := fmt.Sprintf("login%d@example.test", accounts.Add(1))
		active(t, s, addr)
		m := &loginModel{t: t, s: s, addr: addr, devices: map[string]*modelDevice{}, live: map[[32]byte]bool{}, spent: map[[32]byte]bool{}, challenges: map[byte]bool{}}
		m.ids = []string{device(addr, "k0", t0).ID, device(addr, "k1", t0).ID, rawID}
		m.names = []string{"n", rawName}
		for step := 0; len(ops) >= 3 && step < 24; step++ {
			m.step(step, ops[0], ops[1], ops[2])
			ops = ops[3:]
		}
		m.checkList()
	})
}

type modelDevice struct {
	d       store.Device
	revoked bool
}

type loginModel struct {
	t          *testing.T
	s          store.Store
	addr       string
	ids        []string
	names      []string
	devices    map[string]*modelDevice // by id, revoked ones too
	sessions   []store.Session         // every session ever made, live or not
	live       map[[32]byte]bool       // access hashes of live sessions
	spent      map[[32]byte]bool       // refresh hashes replaced by a Refresh
	challenges map[byte]bool           // stored challenge values, by name
}

// keyTaken reports whether some device, revoked or not, has the key named seed.
func (m *loginModel) keyTaken(seed string) bool {
	k := deviceKey(seed)
	for _, d := range m.devices {
		if d.d.Key.Equal(k) {
			return true
		}
	}
	return false
}

func (m *loginModel) activeDevice(id string) *modelDevice {
	if d := m.devices[id]; d != nil && !d.revoked {
		return d
	}
	return nil
}

// expect checks err against the model's verdict: nil, or a sentinel.
func (m *loginModel) expect(err, want error, what string) {
	m.t.Helper()
	if want == nil {
		ok(m.t, err)
		return
	}
	if !errors.Is(err, want) {
		m.t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func (m *loginModel) step(step int, op, x, y byte) {
	t, ctx := m.t, m.t.Context()
	id := m.ids[int(x)%len(m.ids)]
	validID := store.CheckDeviceID(id) == nil
	name := m.names[int(y)%len(m.names)]
	validName := store.CheckDeviceName(name) == nil
	switch op % 9 {
	case 0: // Add
		seed := fmt.Sprint("k", y%3)
		d := device(m.addr, seed, t0.Add(time.Duration(step)))
		d.ID, d.Name = id, name
		var want error
		switch {
		case !validID || !validName:
			want = store.ErrInvalid
		case m.devices[id] != nil || m.keyTaken(seed):
			want = store.ErrExists
		}
		m.expect(m.s.Devices().Add(ctx, d), want, fmt.Sprintf("Add %q key %s name %q", id, seed, name))
		if want == nil {
			m.devices[id] = &modelDevice{d: d}
		}
	case 1: // Rename
		var want error
		switch {
		case !validID || !validName:
			want = store.ErrInvalid
		case m.activeDevice(id) == nil:
			want = store.ErrNotFound
		}
		m.expect(m.s.Devices().Rename(ctx, m.addr, id, name), want, fmt.Sprintf("Rename %q to %q", id, name))
		if want == nil {
			m.devices[id].d.Name = name
		}
	case 2: // Revoke
		var want error
		switch {
		case !validID:
			want = store.ErrInvalid
		case m.activeDevice(id) == nil:
			want = store.ErrNotFound
		}
		m.expect(m.s.Devices().Revoke(ctx, m.addr, id, t0.Add(time.Hour)), want, fmt.Sprintf("Revoke %q", id))
		if want == nil {
			m.devices[id].revoked = true
			for _, ss := range m.sessions {
				if ss.DeviceID == id {
					delete(m.live, ss.AccessHash)
				}
			}
		}
	case 3: // Create
		ss := session(store.Device{Account: m.addr, ID: id}, len(m.sessions), t0)
		var want error
		switch {
		case !validID:
			want = store.ErrInvalid
		case m.activeDevice(id) == nil:
			want = store.ErrNotFound
		}
		m.expect(m.s.Sessions().Create(ctx, ss), want, fmt.Sprintf("Create for %q", id))
		if want == nil {
			m.sessions = append(m.sessions, ss)
			m.live[ss.AccessHash] = true
		}
	case 4: // Refresh
		if len(m.sessions) == 0 {
			return
		}
		old := m.sessions[int(y)%len(m.sessions)]
		next := session(store.Device{Account: m.addr, ID: old.DeviceID}, len(m.sessions), t0.Add(time.Minute))
		got, err := m.s.Sessions().Refresh(ctx, old.RefreshHash, next)
		if !m.live[old.AccessHash] {
			is(t, err, store.ErrNotFound, "Refresh of a dead session")
			if m.spent[old.RefreshHash] {
				// A reuse ends every session of the device.
				for _, ss := range m.sessions {
					if ss.DeviceID == old.DeviceID {
						delete(m.live, ss.AccessHash)
					}
				}
			}
			return
		}
		ok(t, err)
		sameSession(t, got, next, "Refresh")
		delete(m.live, old.AccessHash)
		m.spent[old.RefreshHash] = true
		m.sessions = append(m.sessions, next)
		m.live[next.AccessHash] = true
	case 5: // ByAccess
		if len(m.sessions) == 0 {
			return
		}
		ss := m.sessions[int(y)%len(m.sessions)]
		if m.live[ss.AccessHash] {
			live(t, m.s, ss, "ByAccess of a live session")
		} else {
			dead(t, m.s, ss.AccessHash, "ByAccess of a dead session")
		}
	case 6: // Put challenge
		c := challenge(fmt.Sprint(m.addr, x%3), t0)
		var want error
		if m.challenges[x%3] {
			want = store.ErrExists
		}
		m.expect(m.s.Challenges().Put(ctx, c), want, "Put challenge")
		m.challenges[x%3] = true
	case 7: // Take challenge
		c := challenge(fmt.Sprint(m.addr, x%3), t0)
		got, err := m.s.Challenges().Take(ctx, c.Value)
		if !m.challenges[x%3] {
			is(t, err, store.ErrNotFound, "Take of a challenge not stored")
			return
		}
		ok(t, err)
		sameChallenge(t, got, c, "Take")
		delete(m.challenges, x%3)
	case 8: // Touch
		at := t0.Add(time.Duration(y%16) * store.TouchInterval / 4)
		d := m.activeDevice(id)
		var want error
		switch {
		case !validID:
			want = store.ErrInvalid
		case d == nil:
			want = store.ErrNotFound
		}
		m.expect(m.s.Devices().Touch(ctx, m.addr, id, at), want, fmt.Sprintf("Touch %q", id))
		if want != nil {
			return
		}
		got, err := m.s.Devices().ByKey(ctx, m.addr, d.d.Key)
		ok(t, err)
		prev := d.d.LastSeen
		switch {
		case prev.IsZero() || !at.Before(prev.Add(store.TouchInterval)):
			if !got.LastSeen.Equal(at) {
				t.Fatalf("Touch at %v after %v: last seen %v", at, prev, got.LastSeen)
			}
		case !at.After(prev):
			if !got.LastSeen.Equal(prev) {
				t.Fatalf("Touch at %v moved last seen %v back to %v", at, prev, got.LastSeen)
			}
		default: // within the interval: either
			if !got.LastSeen.Equal(prev) && !got.LastSeen.Equal(at) {
				t.Fatalf("Touch at %v within the interval of %v: last seen %v", at, prev, got.LastSeen)
			}
		}
		d.d.LastSeen = got.LastSeen
	}
}

// checkList compares the account's device list with the model.
func (m *loginModel) checkList() {
	list, err := m.s.Devices().List(m.t.Context(), m.addr)
	ok(m.t, err)
	var want []store.Device
	for _, d := range m.devices {
		if !d.revoked {
			want = append(want, d.d)
		}
	}
	slices.SortFunc(want, func(a, b store.Device) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(list) != len(want) {
		m.t.Fatalf("List: %v, model %v", deviceIDs(list), deviceIDs(want))
	}
	for i := range want {
		sameDevice(m.t, list[i], want[i], fmt.Sprintf("List[%d]", i))
	}
}
