package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type sessions struct{ s *Store }

// insertSession stores s after checking that neither hash is taken.
func insertSession(tx *wtx, s store.Session) error {
	dup, err := exists(tx, `SELECT 1 FROM sessions WHERE access_hash IN (?1, ?2) OR refresh_hash IN (?1, ?2)`,
		s.AccessHash[:], s.RefreshHash[:])
	if err != nil {
		return fmt.Errorf("sqlite store: look up session hashes: %w", err)
	}
	if dup {
		return fmt.Errorf("%w: a session with this token hash", store.ErrExists)
	}
	_, err = tx.exec(`INSERT INTO sessions (access_hash, refresh_hash, account, device_id, issued, access_expires, refresh_expires)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, s.AccessHash[:], s.RefreshHash[:], s.Account, s.DeviceID,
		sqlrow.Nanos(s.Issued), sqlrow.Nanos(s.AccessExpires), sqlrow.Nanos(s.RefreshExpires))
	if err != nil {
		return fmt.Errorf("sqlite store: store session of device %s of %s: %w", s.DeviceID, s.Account, err)
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
	return v.s.w.do(ctx, func(tx *wtx) error {
		if err := mustBeActive(tx, s.Account); err != nil {
			return err
		}
		ok, err := exists(tx, `SELECT 1 FROM devices WHERE account = ? AND id = ? AND revoked IS NULL`, s.Account, s.DeviceID)
		if err != nil {
			return fmt.Errorf("sqlite store: look up device %s of %s: %w", s.DeviceID, s.Account, err)
		}
		if !ok {
			return fmt.Errorf("%w: active device %s of %s", store.ErrNotFound, s.DeviceID, s.Account)
		}
		return insertSession(tx, s)
	})
}

// ByAccess is a read: it never waits for the writer. The lookup is by an
// index on a SHA-256 hash of a random token, so its timing tells nothing
// about any token (dmap spec §4.3).
func (v sessions) ByAccess(ctx context.Context, h [32]byte) (store.Session, error) {
	var s store.Session
	err := v.s.readRow(ctx, v.s.hot.byAccess, func(r *sql.Row) (err error) {
		if s, err = sqlrow.ScanSession(r); err != nil {
			return noRows(err, "live session")
		}
		return nil
	}, h[:])
	return s, err
}

// Refresh reads, deletes and inserts in one request of the single writer,
// so concurrent refreshes of one token are serialised and only the first
// finds it (docs/spec/store.md §11.2). The token it replaces is kept as
// spent; a later Refresh with it ends every session of its device.
func (v sessions) Refresh(ctx context.Context, old [32]byte, next store.Session) (store.Session, error) {
	if err := store.CheckSessionTokens(next); err != nil {
		return store.Session{}, err
	}
	var reused error
	err := v.s.w.do(ctx, func(tx *wtx) error {
		prev, err := sqlrow.ScanSession(tx.queryRow(sqlrow.LiveSession+`s.refresh_hash = ?`, old[:]))
		if errors.Is(err, sql.ErrNoRows) {
			return endReused(tx, old, &reused)
		}
		if err != nil {
			return fmt.Errorf("sqlite store: look up refresh token: %w", err)
		}
		if !prev.RefreshExpires.After(next.Issued) {
			return fmt.Errorf("%w: the refresh token of device %s of %s expired at %v", store.ErrNotFound,
				prev.DeviceID, prev.Account, prev.RefreshExpires)
		}
		if _, err := tx.exec(`DELETE FROM sessions WHERE refresh_hash = ?`, old[:]); err != nil {
			return fmt.Errorf("sqlite store: end session of device %s of %s: %w", prev.DeviceID, prev.Account, err)
		}
		if _, err := tx.exec(`INSERT INTO spent_refresh (refresh_hash, account, device_id, expires) VALUES (?, ?, ?, ?)`,
			old[:], prev.Account, prev.DeviceID, sqlrow.Nanos(prev.RefreshExpires)); err != nil {
			return fmt.Errorf("sqlite store: keep spent refresh token of device %s of %s: %w", prev.DeviceID, prev.Account, err)
		}
		next.Account, next.DeviceID = prev.Account, prev.DeviceID
		return insertSession(tx, next)
	})
	if err == nil {
		err = reused
	}
	if err != nil {
		return store.Session{}, err
	}
	return next, nil
}

// endReused handles a refresh token that is no live session's: if it was
// spent by an earlier Refresh, someone holds a copy of it, so every
// session of its device ends (the device logs in again with its key). The
// ErrNotFound to answer is set in *answer and the transaction commits; an
// error returned rolls it back.
func endReused(tx *wtx, old [32]byte, answer *error) error {
	var account, device string
	err := tx.queryRow(`SELECT account, device_id FROM spent_refresh WHERE refresh_hash = ?`, old[:]).Scan(&account, &device)
	if errors.Is(err, sql.ErrNoRows) {
		*answer = fmt.Errorf("%w: live session for this refresh token", store.ErrNotFound)
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite store: look up spent refresh token: %w", err)
	}
	n, err := tx.exec(`DELETE FROM sessions WHERE account = ? AND device_id = ?`, account, device)
	if err != nil {
		return fmt.Errorf("sqlite store: end sessions of device %s of %s after a refresh token reuse: %w", device, account, err)
	}
	*answer = fmt.Errorf("%w: refresh token of device %s of %s used again; its %d sessions ended", store.ErrNotFound, device, account, n)
	return nil
}

func (v sessions) DeleteByDevice(ctx context.Context, account, id string) (int, error) {
	if err := checkDeviceRef(account, id); err != nil {
		return 0, err
	}
	var n int64
	err := v.s.w.do(ctx, func(tx *wtx) error {
		var err error
		n, err = tx.exec(`DELETE FROM sessions WHERE account = ? AND device_id = ?`, account, id)
		if err != nil {
			return fmt.Errorf("sqlite store: end sessions of device %s of %s: %w", id, account, err)
		}
		return nil
	})
	return int(n), err
}

func (v sessions) Purge(ctx context.Context, now time.Time) (int, error) {
	if err := store.CheckTime("now", now); err != nil {
		return 0, err
	}
	var n int64
	err := v.s.w.do(ctx, func(tx *wtx) error {
		var err error
		n, err = tx.exec(`DELETE FROM sessions WHERE refresh_expires <= ?1 AND access_expires <= ?1`, sqlrow.Nanos(now))
		if err != nil {
			return fmt.Errorf("sqlite store: purge sessions: %w", err)
		}
		// A spent token past its expiry could not refresh anyway.
		if _, err := tx.exec(`DELETE FROM spent_refresh WHERE expires <= ?`, sqlrow.Nanos(now)); err != nil {
			return fmt.Errorf("sqlite store: purge spent refresh tokens: %w", err)
		}
		return nil
	})
	return int(n), err
}
