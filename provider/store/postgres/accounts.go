package postgres

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type accounts struct{ s *Store }

func (a accounts) AddInvited(ctx context.Context, address string, codeHash [32]byte) error {
	if err := store.CheckAddress(address); err != nil {
		return err
	}
	created := time.Now()
	return a.s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO accounts (address, state, code_hash, mode, created, last_seq)
			VALUES ($1, 'invited', $2, '', $3, 0) ON CONFLICT (address) DO NOTHING`, address, codeHash[:], sqlrow.Nanos(created))
		if err != nil {
			return fmt.Errorf("postgres store: add account %s: %w", address, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: account %s", store.ErrExists, address)
		}
		return nil
	})
}

func (a accounts) Activate(ctx context.Context, address string, codeHash [32]byte, mode store.Mode) error {
	if err := store.CheckAddress(address); err != nil {
		return err
	}
	if err := store.CheckMode(mode); err != nil {
		return err
	}
	return a.s.write(ctx, func(tx pgx.Tx) error {
		var state string
		var stored []byte
		err := tx.QueryRow(ctx, `SELECT state, code_hash FROM accounts WHERE address = $1 FOR UPDATE`, address).Scan(&state, &stored)
		if err != nil {
			return noRows(err, "account %s", address)
		}
		if state != string(store.StateInvited) {
			return fmt.Errorf("%w: account %s is %s, not invited", store.ErrState, address, state)
		}
		// Constant time: the code is a secret.
		if subtle.ConstantTimeCompare(stored, codeHash[:]) != 1 {
			return fmt.Errorf("%w: account %s", store.ErrBadCode, address)
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET state = 'active', code_hash = NULL, mode = $1 WHERE address = $2`, string(mode), address); err != nil {
			return fmt.Errorf("postgres store: activate %s: %w", address, err)
		}
		return nil
	})
}

func (a accounts) Disable(ctx context.Context, address string) error {
	if err := store.CheckAddress(address); err != nil {
		return err
	}
	return a.s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET state = 'disabled', code_hash = NULL WHERE address = $1`, address)
		if err != nil {
			return fmt.Errorf("postgres store: disable %s: %w", address, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: account %s", store.ErrNotFound, address)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE account = $1`, address); err != nil {
			return fmt.Errorf("postgres store: end sessions of %s: %w", address, err)
		}
		return nil
	})
}

func (a accounts) SetKeyBackup(ctx context.Context, address string, blob []byte) error {
	if err := store.CheckAddress(address); err != nil {
		return err
	}
	if err := store.CheckSize("key backup", blob, store.MaxKeyBackupSize); err != nil {
		return err
	}
	return a.s.write(ctx, func(tx pgx.Tx) error {
		var state, mode string
		err := tx.QueryRow(ctx, `SELECT state, mode FROM accounts WHERE address = $1 FOR UPDATE`, address).Scan(&state, &mode)
		if err != nil {
			return noRows(err, "account %s", address)
		}
		if state != string(store.StateActive) || mode != string(store.ModeCautious) {
			return fmt.Errorf("%w: account %s is %s in mode %q; key backups are for active cautious accounts", store.ErrState, address, state, mode)
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET key_backup = $1 WHERE address = $2`, blob, address); err != nil {
			return fmt.Errorf("postgres store: set key backup of %s: %w", address, err)
		}
		return nil
	})
}

func (a accounts) Get(ctx context.Context, address string) (store.Account, error) {
	var acc store.Account
	if err := store.CheckAddress(address); err != nil {
		return acc, err
	}
	var state, mode string
	var created int64
	err := a.s.row(ctx, `SELECT address, state, mode, created, key_backup FROM accounts WHERE address = $1`, address).Scan(&acc.Address, &state, &mode, &created, &acc.KeyBackup)
	if err != nil {
		return store.Account{}, noRows(err, "account %s", address)
	}
	acc.State, acc.Mode, acc.Created = store.State(state), store.Mode(mode), sqlrow.FromNanos(created)
	return acc, nil
}

func (a accounts) List(ctx context.Context) ([]store.Account, error) {
	var list []store.Account
	err := a.s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT address, state, mode, created FROM accounts ORDER BY address`)
		if err != nil {
			return fmt.Errorf("postgres store: list accounts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var acc store.Account
			var state, mode string
			var created int64
			if err := rows.Scan(&acc.Address, &state, &mode, &created); err != nil {
				return fmt.Errorf("postgres store: list accounts: %w", err)
			}
			acc.State, acc.Mode, acc.Created = store.State(state), store.Mode(mode), sqlrow.FromNanos(created)
			list = append(list, acc)
		}
		return rows.Err()
	})
	return list, err
}
