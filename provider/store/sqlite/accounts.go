package sqlite

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"time"

	"umbra/provider/store"
	"umbra/provider/store/internal/sqlrow"
)

type accounts struct{ s *Store }

func (a accounts) AddInvited(ctx context.Context, address string, codeHash [32]byte) error {
	if err := store.CheckAddress(address); err != nil {
		return err
	}
	created := time.Now()
	return a.s.w.do(ctx, func(tx *wtx) error {
		ok, err := exists(tx, `SELECT 1 FROM accounts WHERE address = ?`, address)
		if err != nil {
			return fmt.Errorf("sqlite store: look up account %s: %w", address, err)
		}
		if ok {
			return fmt.Errorf("%w: account %s", store.ErrExists, address)
		}
		_, err = tx.exec(`INSERT INTO accounts (address, state, code_hash, mode, created, last_seq)
			VALUES (?, 'invited', ?, '', ?, 0)`, address, codeHash[:], sqlrow.Nanos(created))
		if err != nil {
			return fmt.Errorf("sqlite store: add account %s: %w", address, err)
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
	return a.s.w.do(ctx, func(tx *wtx) error {
		var state string
		var stored []byte
		err := tx.queryRow(`SELECT state, code_hash FROM accounts WHERE address = ?`, address).Scan(&state, &stored)
		if err != nil {
			return noRows(err, "account %s", address)
		}
		if state != string(store.StateInvited) {
			return fmt.Errorf("%w: account %s is %s, not invited", store.ErrState, address, state)
		}
		// Constant time: the code is a secret and the comparison must not
		// tell a guesser how many leading bytes of its hash were right.
		if subtle.ConstantTimeCompare(stored, codeHash[:]) != 1 {
			return fmt.Errorf("%w: account %s", store.ErrBadCode, address)
		}
		_, err = tx.exec(`UPDATE accounts SET state = 'active', code_hash = NULL, mode = ? WHERE address = ?`, string(mode), address)
		if err != nil {
			return fmt.Errorf("sqlite store: activate %s: %w", address, err)
		}
		return nil
	})
}

func (a accounts) Disable(ctx context.Context, address string) error {
	if err := store.CheckAddress(address); err != nil {
		return err
	}
	return a.s.w.do(ctx, func(tx *wtx) error {
		n, err := tx.exec(`UPDATE accounts SET state = 'disabled', code_hash = NULL WHERE address = ?`, address)
		if err != nil {
			return fmt.Errorf("sqlite store: disable %s: %w", address, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: account %s", store.ErrNotFound, address)
		}
		// Reads already ignore a disabled account's sessions (§11);
		// deleting them keeps no useless token hashes.
		if _, err := tx.exec(`DELETE FROM sessions WHERE account = ?`, address); err != nil {
			return fmt.Errorf("sqlite store: end sessions of %s: %w", address, err)
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
	return a.s.w.do(ctx, func(tx *wtx) error {
		var state, mode string
		err := tx.queryRow(`SELECT state, mode FROM accounts WHERE address = ?`, address).Scan(&state, &mode)
		if err != nil {
			return noRows(err, "account %s", address)
		}
		if state != string(store.StateActive) || mode != string(store.ModeCautious) {
			return fmt.Errorf("%w: account %s is %s in mode %q; key backups are for active cautious accounts", store.ErrState, address, state, mode)
		}
		if _, err := tx.exec(`UPDATE accounts SET key_backup = ? WHERE address = ?`, nullBlob(blob), address); err != nil {
			return fmt.Errorf("sqlite store: set key backup of %s: %w", address, err)
		}
		return nil
	})
}

func (a accounts) Get(ctx context.Context, address string) (store.Account, error) {
	var acc store.Account
	if err := store.CheckAddress(address); err != nil {
		return acc, err
	}
	err := a.s.read(ctx, func(tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx, `SELECT address, state, mode, created, key_backup FROM accounts WHERE address = ?`, address).
			Scan(&acc.Address, &acc.State, &acc.Mode, &created, &acc.KeyBackup)
		if err != nil {
			return noRows(err, "account %s", address)
		}
		acc.Created = sqlrow.FromNanos(created)
		return nil
	})
	return acc, err
}

func (a accounts) List(ctx context.Context) ([]store.Account, error) {
	var list []store.Account
	err := a.s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT address, state, mode, created FROM accounts ORDER BY address`)
		if err != nil {
			return fmt.Errorf("sqlite store: list accounts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var acc store.Account
			var created int64
			if err := rows.Scan(&acc.Address, &acc.State, &acc.Mode, &created); err != nil {
				return fmt.Errorf("sqlite store: list accounts: %w", err)
			}
			acc.Created = sqlrow.FromNanos(created)
			list = append(list, acc)
		}
		return rows.Err()
	})
	return list, err
}
