package postgres

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type devices struct{ s *Store }

func (v devices) Add(ctx context.Context, d store.Device) error {
	if err := store.CheckDevice(d); err != nil {
		return err
	}
	return v.s.write(ctx, func(tx pgx.Tx) error {
		if err := lockActive(ctx, tx, d.Account); err != nil {
			return err
		}
		// Revoked rows count too: a revoked key stays out (§9.1).
		_, err := tx.Exec(ctx, `INSERT INTO devices (account, id, key, name, created, last_seen, revoked)
			VALUES ($1, $2, $3, $4, $5, 0, NULL)`, d.Account, d.ID, []byte(d.Key), d.Name, sqlrow.Nanos(d.Created))
		if isUnique(err) {
			return fmt.Errorf("%w: device %s or its key, in account %s", store.ErrExists, d.ID, d.Account)
		}
		if err != nil {
			return fmt.Errorf("postgres store: add device %s to %s: %w", d.ID, d.Account, err)
		}
		return nil
	})
}

// lockActive share-locks address's account row until the transaction
// ends, so that a concurrent Disable waits for it: ErrNotFound if there
// is no account, ErrState unless it is active.
func lockActive(ctx context.Context, tx pgx.Tx, address string) error {
	var state string
	if err := tx.QueryRow(ctx, `SELECT state FROM accounts WHERE address = $1 FOR SHARE`, address).Scan(&state); err != nil {
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
	d, err := sqlrow.ScanDevice(v.s.row(ctx, `SELECT `+sqlrow.DeviceColumns+` FROM devices
		WHERE account = $1 AND key = $2 AND revoked IS NULL
		AND EXISTS (SELECT 1 FROM accounts WHERE address = $1 AND state = 'active')`, account, []byte(key)))
	if err != nil {
		return store.Device{}, noRows(err, "device key of %s", account)
	}
	return d, nil
}

func (v devices) List(ctx context.Context, account string) ([]store.Device, error) {
	if err := store.CheckAddress(account); err != nil {
		return nil, err
	}
	var list []store.Device
	err := v.s.read(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE address = $1`, account).Scan(new(int)); err != nil {
			return noRows(err, "account %s", account)
		}
		rows, err := tx.Query(ctx, `SELECT `+sqlrow.DeviceColumns+` FROM devices
			WHERE account = $1 AND revoked IS NULL ORDER BY created, id`, account)
		if err != nil {
			return fmt.Errorf("postgres store: devices of %s: %w", account, err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := sqlrow.ScanDevice(rows)
			if err != nil {
				return fmt.Errorf("postgres store: devices of %s: %w", account, err)
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

// updateActive runs an UPDATE of one active device ($2, $3) and turns "no
// row" into ErrNotFound. what names the operation in errors.
func updateActive(ctx context.Context, tx pgx.Tx, what, account, id, set string, arg any) error {
	tag, err := tx.Exec(ctx, `UPDATE devices SET `+set+` WHERE account = $2 AND id = $3 AND revoked IS NULL`, arg, account, id)
	if err != nil {
		return fmt.Errorf("postgres store: %s device %s of %s: %w", what, id, account, err)
	}
	if tag.RowsAffected() == 0 {
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
	return v.s.write(ctx, func(tx pgx.Tx) error {
		return updateActive(ctx, tx, "rename", account, id, `name = $1`, name)
	})
}

// Revoke's UPDATE waits for a session being created or refreshed for the
// device (they share-lock its row), and its DELETE then sees that
// session: none survives the revocation.
func (v devices) Revoke(ctx context.Context, account, id string, at time.Time) error {
	if err := checkDeviceRef(account, id); err != nil {
		return err
	}
	if err := store.CheckTime("revoked", at); err != nil {
		return err
	}
	return v.s.write(ctx, func(tx pgx.Tx) error {
		if err := updateActive(ctx, tx, "revoke", account, id, `revoked = $1`, at.UnixNano()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE account = $1 AND device_id = $2`, account, id); err != nil {
			return fmt.Errorf("postgres store: end sessions of device %s of %s: %w", id, account, err)
		}
		return nil
	})
}

// Touch reads the stored time first and writes only when it is at least
// store.TouchInterval old: once a minute per device, not once per request
// (docs/spec/store.md §9.2).
func (v devices) Touch(ctx context.Context, account, id string, at time.Time) error {
	if err := checkDeviceRef(account, id); err != nil {
		return err
	}
	if err := store.CheckTime("last seen", at); err != nil {
		return err
	}
	var seen int64
	err := v.s.row(ctx, `SELECT last_seen FROM devices WHERE account = $1 AND id = $2 AND revoked IS NULL`, account, id).Scan(&seen)
	if err != nil {
		return noRows(err, "active device %s of %s", id, account)
	}
	if seen != 0 && at.UnixNano()-seen < int64(store.TouchInterval) {
		return nil
	}
	return v.s.write(ctx, func(tx pgx.Tx) error {
		return updateActive(ctx, tx, "touch", account, id, `last_seen = greatest(last_seen, $1)`, at.UnixNano())
	})
}
