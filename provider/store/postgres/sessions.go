package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type sessions struct{ s *Store }

// lockDevice share-locks account's row, then its active device id's, until
// the transaction ends (the order every writer follows: account, device,
// session), so that Disable and Revoke wait for the session being
// written and then end it. ErrNotFound or ErrState if either is not
// active.
func lockDevice(ctx context.Context, tx pgx.Tx, account, id string) error {
	if err := lockActive(ctx, tx, account); err != nil {
		return err
	}
	ok, err := exists(ctx, tx, `SELECT 1 FROM devices WHERE account = $1 AND id = $2 AND revoked IS NULL FOR SHARE`, account, id)
	if err != nil {
		return fmt.Errorf("postgres store: look up device %s of %s: %w", id, account, err)
	}
	if !ok {
		return fmt.Errorf("%w: active device %s of %s", store.ErrNotFound, id, account)
	}
	return nil
}

// insertSession stores s; ErrExists if either hash is taken.
func insertSession(ctx context.Context, tx pgx.Tx, s store.Session) error {
	tag, err := tx.Exec(ctx, `INSERT INTO sessions (access_hash, refresh_hash, account, device_id, issued, access_expires, refresh_expires)
		SELECT $1, $2, $3, $4, $5, $6, $7
		WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE access_hash IN ($1, $2) OR refresh_hash IN ($1, $2))`,
		s.AccessHash[:], s.RefreshHash[:], s.Account, s.DeviceID, sqlrow.Nanos(s.Issued), sqlrow.Nanos(s.AccessExpires), sqlrow.Nanos(s.RefreshExpires))
	if isUnique(err) || err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: a session with this token hash", store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("postgres store: store session of device %s of %s: %w", s.DeviceID, s.Account, err)
	}
	return nil
}

func (v sessions) Create(ctx context.Context, s store.Session) error {
	if err := checkDeviceRef(s.Account, s.DeviceID); err != nil {
		return err
	}
	if err := store.CheckSessionTokens(s); err != nil {
		return err
	}
	return v.s.write(ctx, func(tx pgx.Tx) error {
		if err := lockDevice(ctx, tx, s.Account, s.DeviceID); err != nil {
			return err
		}
		return insertSession(ctx, tx, s)
	})
}

// ByAccess is one indexed look-up by the SHA-256 hash of a random token,
// so its timing tells nothing about any token (dmap spec §4.3).
func (v sessions) ByAccess(ctx context.Context, h [32]byte) (store.Session, error) {
	s, err := sqlrow.ScanSession(v.s.row(ctx, sqlrow.LiveSession+`s.access_hash = $1`, h[:]))
	if err != nil {
		return store.Session{}, noRows(err, "live session")
	}
	return s, nil
}

// Refresh finds the session, locks its account and device (in the order
// of lockDevice), then locks the session's row itself: of concurrent
// Refreshes of one token, on any nodes, the first to lock it replaces it
// and the others, once it commits, find it gone and its token spent
// (docs/spec/store.md §11.2). A later Refresh with a spent token ends
// every session of its device.
func (v sessions) Refresh(ctx context.Context, old [32]byte, next store.Session) (store.Session, error) {
	if err := store.CheckSessionTokens(next); err != nil {
		return store.Session{}, err
	}
	var reused error
	var out store.Session
	err := v.s.write(ctx, func(tx pgx.Tx) error {
		reused = nil
		var account, device string
		err := tx.QueryRow(ctx, `SELECT account, device_id FROM sessions WHERE refresh_hash = $1`, old[:]).Scan(&account, &device)
		if err == nil {
			err = lockDevice(ctx, tx, account, device)
		}
		var prev store.Session
		if err == nil {
			prev, err = sqlrow.ScanSession(tx.QueryRow(ctx, sqlrow.LiveSession+`s.refresh_hash = $1 FOR UPDATE OF s`, old[:]))
		}
		if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrState) {
			return endReused(ctx, tx, old, &reused)
		}
		if err != nil {
			return fmt.Errorf("postgres store: look up refresh token: %w", err)
		}
		if !prev.RefreshExpires.After(next.Issued) {
			return fmt.Errorf("%w: the refresh token of device %s of %s expired at %v", store.ErrNotFound,
				prev.DeviceID, prev.Account, prev.RefreshExpires)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE refresh_hash = $1`, old[:]); err != nil {
			return fmt.Errorf("postgres store: end session of device %s of %s: %w", prev.DeviceID, prev.Account, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO spent_refresh (refresh_hash, account, device_id, expires) VALUES ($1, $2, $3, $4)
			ON CONFLICT (refresh_hash) DO NOTHING`, old[:], prev.Account, prev.DeviceID, sqlrow.Nanos(prev.RefreshExpires)); err != nil {
			return fmt.Errorf("postgres store: keep spent refresh token of device %s of %s: %w", prev.DeviceID, prev.Account, err)
		}
		out = next
		out.Account, out.DeviceID = prev.Account, prev.DeviceID
		return insertSession(ctx, tx, out)
	})
	if err == nil {
		err = reused
	}
	if err != nil {
		return store.Session{}, err
	}
	return out, nil
}

// endReused handles a refresh token that is no live session's: if it was
// spent by an earlier Refresh, someone holds a copy of it, so every
// session of its device ends. The ErrNotFound to answer is set in
// *answer and the transaction commits; an error returned rolls it back.
func endReused(ctx context.Context, tx pgx.Tx, old [32]byte, answer *error) error {
	var account, device string
	err := tx.QueryRow(ctx, `SELECT account, device_id FROM spent_refresh WHERE refresh_hash = $1`, old[:]).Scan(&account, &device)
	if errors.Is(err, pgx.ErrNoRows) {
		*answer = fmt.Errorf("%w: live session for this refresh token", store.ErrNotFound)
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres store: look up spent refresh token: %w", err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE account = $1 AND device_id = $2`, account, device)
	if err != nil {
		return fmt.Errorf("postgres store: end sessions of device %s of %s after a refresh token reuse: %w", device, account, err)
	}
	*answer = fmt.Errorf("%w: refresh token of device %s of %s used again; its %d sessions ended", store.ErrNotFound, device, account, tag.RowsAffected())
	return nil
}

func (v sessions) DeleteByDevice(ctx context.Context, account, id string) (int, error) {
	if err := checkDeviceRef(account, id); err != nil {
		return 0, err
	}
	var n int64
	err := v.s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE account = $1 AND device_id = $2`, account, id)
		if err != nil {
			return fmt.Errorf("postgres store: end sessions of device %s of %s: %w", id, account, err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return int(n), err
}

func (v sessions) Purge(ctx context.Context, now time.Time) (int, error) {
	// A spent token past its expiry could not refresh anyway.
	return v.s.purge(ctx, now, "sessions", `DELETE FROM sessions WHERE refresh_expires <= $1 AND access_expires <= $1`,
		`DELETE FROM spent_refresh WHERE expires <= $1`)
}
