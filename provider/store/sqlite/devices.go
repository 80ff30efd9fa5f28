package sqlite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type devices struct{ s *Store }

func (v devices) Add(ctx context.Context, d store.Device) error {
	if err := store.CheckDevice(d); err != nil {
		return err
	}
	return v.s.w.do(ctx, func(tx *wtx) error {
		if err := mustBeActive(tx, d.Account); err != nil {
			return err
		}
		// Revoked rows count too: a revoked key stays out (§9.1).
		dup, err := exists(tx, `SELECT 1 FROM devices WHERE account = ? AND (id = ? OR key = ?)`, d.Account, d.ID, []byte(d.Key))
		if err != nil {
			return fmt.Errorf("sqlite store: look up device %s of %s: %w", d.ID, d.Account, err)
		}
		if dup {
			return fmt.Errorf("%w: device %s or its key, in account %s", store.ErrExists, d.ID, d.Account)
		}
		_, err = tx.exec(`INSERT INTO devices (account, id, key, name, created, last_seen, revoked)
			VALUES (?, ?, ?, ?, ?, 0, NULL)`, d.Account, d.ID, []byte(d.Key), d.Name, sqlrow.Nanos(d.Created))
		if err != nil {
			return fmt.Errorf("sqlite store: add device %s to %s: %w", d.ID, d.Account, err)
		}
		return nil
	})
}

// mustBeActive returns ErrNotFound if address has no account and
// ErrState unless it is active.
func mustBeActive(tx *wtx, address string) error {
	var state string
	if err := tx.queryRow(`SELECT state FROM accounts WHERE address = ?`, address).Scan(&state); err != nil {
		return noRows(err, "account %s", address)
	}
	if state != string(store.StateActive) {
		return fmt.Errorf("%w: account %s is %s, not active", store.ErrState, address, state)
	}
	return nil
}

func (v devices) ByKey(ctx context.Context, account string, key ed25519.PublicKey) (store.Device, error) {
	if err := store.CheckAddress(account); err != nil {
		return store.Device{}, err
	}
	if err := store.CheckDeviceKey(key); err != nil {
		return store.Device{}, err
	}
	var d store.Device
	err := v.s.read(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = sqlrow.ScanDevice(tx.QueryRowContext(ctx, `SELECT `+sqlrow.DeviceColumns+` FROM devices
			WHERE account = ? AND key = ? AND revoked IS NULL
			AND EXISTS (SELECT 1 FROM accounts WHERE address = ? AND state = 'active')`, account, []byte(key), account))
		if err != nil {
			return noRows(err, "device key of %s", account)
		}
		return nil
	})
	return d, err
}

func (v devices) List(ctx context.Context, account string) ([]store.Device, error) {
	if err := store.CheckAddress(account); err != nil {
		return nil, err
	}
	var list []store.Device
	err := v.s.read(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE address = ?`, account).Scan(&one); err != nil {
			return noRows(err, "account %s", account)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+sqlrow.DeviceColumns+` FROM devices
			WHERE account = ? AND revoked IS NULL ORDER BY created, id`, account)
		if err != nil {
			return fmt.Errorf("sqlite store: devices of %s: %w", account, err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := sqlrow.ScanDevice(rows)
			if err != nil {
				return fmt.Errorf("sqlite store: devices of %s: %w", account, err)
			}
			list = append(list, d)
		}
		return rows.Err()
	})
	return list, err
}

func checkDeviceRef(account, id string) error {
	if err := store.CheckAddress(account); err != nil {
		return err
	}
	return store.CheckDeviceID(id)
}

// updateActive runs an UPDATE of one active device and turns "no row"
// into ErrNotFound. what names the operation in errors.
func updateActive(tx *wtx, what, account, id, set string, arg any) error {
	n, err := tx.exec(`UPDATE devices SET `+set+` WHERE account = ? AND id = ? AND revoked IS NULL`, arg, account, id)
	if err != nil {
		return fmt.Errorf("sqlite store: %s device %s of %s: %w", what, id, account, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: active device %s of %s", store.ErrNotFound, id, account)
	}
	return nil
}

func (v devices) Rename(ctx context.Context, account, id, name string) error {
	if err := checkDeviceRef(account, id); err != nil {
		return err
	}
	if err := store.CheckDeviceName(name); err != nil {
		return err
	}
	return v.s.w.do(ctx, func(tx *wtx) error {
		return updateActive(tx, "rename", account, id, `name = ?`, name)
	})
}

func (v devices) Revoke(ctx context.Context, account, id string, at time.Time) error {
	if err := checkDeviceRef(account, id); err != nil {
		return err
	}
	if err := store.CheckTime("revoked", at); err != nil {
		return err
	}
	return v.s.w.do(ctx, func(tx *wtx) error {
		if err := updateActive(tx, "revoke", account, id, `revoked = ?`, at.UnixNano()); err != nil {
			return err
		}
		// Reads also ignore sessions of revoked devices (§11); deleting
		// them keeps no useless token hashes.
		if _, err := tx.exec(`DELETE FROM sessions WHERE account = ? AND device_id = ?`, account, id); err != nil {
			return fmt.Errorf("sqlite store: end sessions of device %s of %s: %w", id, account, err)
		}
		return nil
	})
}

// Touch first reads the stored time from the read pool, which never waits
// for the writer, and only goes through the writer (a group commit, one
// fsync shared with whatever else is being written) when the time is at
// least store.TouchInterval old: once a minute per device, not once per
// request (docs/spec/store.md §9.2).
func (v devices) Touch(ctx context.Context, account, id string, at time.Time) error {
	if err := checkDeviceRef(account, id); err != nil {
		return err
	}
	if err := store.CheckTime("last seen", at); err != nil {
		return err
	}
	var seen int64
	err := v.s.readRow(ctx, v.s.hot.lastSeen, func(r *sql.Row) error {
		if err := r.Scan(&seen); err != nil {
			return noRows(err, "active device %s of %s", id, account)
		}
		return nil
	}, account, id)
	if err != nil {
		return err
	}
	if seen != 0 && at.UnixNano()-seen < int64(store.TouchInterval) {
		return nil
	}
	return v.s.w.do(ctx, func(tx *wtx) error {
		return updateActive(tx, "touch", account, id, `last_seen = max(last_seen, ?)`, at.UnixNano())
	})
}
