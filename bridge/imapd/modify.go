package imapd

import (
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"

	"umbra/bridge/imapd/imapserver"
	"umbra/bridge/mailstore"
)

// Store answers STORE and UID STORE (RFC 9051 §6.4.6). Each changed
// message is one store transaction with origin Local, so the sync engine
// pushes it. +FLAGS and -FLAGS are applied as deltas in that transaction,
// never computed from this session's copy, so two sessions storing at
// once lose nothing. UNCHANGEDSINCE (RFC 7162 §3.1.3) is checked in the
// same transaction; the messages it leaves alone are named by MODIFIED.
func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	v, err := s.writable()
	if err != nil {
		return err
	}
	if err := v.checkSeqSet(numSet); err != nil {
		return err
	}
	if err := v.box.ensureDetails(s.srv.ctx, s.srv.store); err != nil {
		return err
	}
	ch := mailstore.FlagChange{UnchangedSince: options.UnchangedSince}
	given := storeFlags(flags.Flags)
	switch flags.Op {
	case imap.StoreFlagsSet:
		ch.Replace, ch.Add = true, given
	case imap.StoreFlagsAdd:
		ch.Add = given
	default: // imap.StoreFlagsDel
		ch.Remove = given
	}
	_, isUID := numSet.(imap.UIDSet)
	var modifiedSeqs imap.SeqSet
	var modifiedUIDs imap.UIDSet
	chosen := v.choose(numSet)
	done := chosen[:0]
	var changed []bool // by index in done: the store gave it a new mod-sequence
	for _, m := range chosen {
		if !m.loaded {
			continue
		}
		out, err := s.updateFlags(v, m.message, ch)
		switch {
		case errors.Is(err, mailstore.ErrNotFound):
			continue // expunged meanwhile; its EXPUNGE is queued
		case errors.Is(err, mailstore.ErrModified):
			modifiedUIDs.AddNum(imap.UID(m.uid))
			if m.seq != 0 {
				modifiedSeqs.AddNum(m.seq)
			}
			continue
		case err != nil:
			return err
		}
		changed = append(changed, out.ModSeq != m.modseq)
		m.flags, m.modseq = out.Flags, out.ModSeq
		done = append(done, m)
	}
	// A keyword new to the mailbox is announced before the FETCH
	// responses that show it (RFC 9051 §7.3.5).
	if err := v.announceFlags(w.Updates()); err != nil {
		return err
	}
	condStore := s.conn.CondStoreEnabled()
	for i, m := range done {
		// .SILENT leaves the FETCH out, except that once CONDSTORE is
		// enabled a changed message's new MODSEQ is still sent, with its
		// UID and without FLAGS (RFC 7162 §3.1.3, example 3; Dovecot too).
		if m.seq == 0 || (flags.Silent && !(condStore && changed[i])) {
			continue
		}
		resp := w.CreateMessage(m.seq)
		resp.WriteUID(imap.UID(m.uid))
		if !flags.Silent {
			resp.WriteFlags(v.messageFlags(m.message))
		}
		if condStore {
			resp.WriteModSeq(m.modseq)
		}
		if err := resp.Close(); err != nil {
			return err
		}
	}
	switch {
	case isUID && len(modifiedUIDs) > 0:
		return imapserver.ModifiedError(modifiedUIDs)
	case !isUID && len(modifiedSeqs) > 0:
		return imapserver.ModifiedError(modifiedSeqs)
	}
	return nil
}

// Expunge answers EXPUNGE, UID EXPUNGE (RFC 4315 §2.1) and CLOSE. The
// EXPUNGE responses are not written here: each expunge the store commits
// comes back as an event and is queued on every session's tracker,
// including this one, and imapserver polls it out before the tagged OK,
// with sequence numbers adjusted one by one (RFC 9051 §7.5.1).
func (s *session) Expunge(_ *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	v, err := s.writable()
	if err != nil {
		return err
	}
	if err := v.box.ensureDetails(s.srv.ctx, s.srv.store); err != nil {
		return err
	}
	msgs, _, maxUID := v.all()
	for _, m := range msgs {
		if !m.loaded || !hasFlag(m.flags, string(imap.FlagDeleted)) {
			continue
		}
		if uids != nil && !uidContains(*uids, imap.UID(m.uid), maxUID) {
			continue
		}
		if err := s.srv.store.Expunge(s.srv.ctx, m.id, mailstore.Local); err != nil && !errors.Is(err, mailstore.ErrNotFound) {
			return fmt.Errorf("imapd: expunge uid %d: %w", m.uid, err)
		}
	}
	return nil
}

// Copy answers COPY and UID COPY with COPYUID (RFC 4315 §3). A copy gets a
// new message key: it is a new message for the sync engine.
func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	return s.transfer(numSet, dest, "copy", func(m message) (mailstore.Message, error) {
		return s.srv.store.Copy(s.srv.ctx, m.id, dest, s.srv.opts.NewKey(), mailstore.Local)
	})
}

// Move answers MOVE and UID MOVE (RFC 6851 §3.3): COPYUID first, then the
// EXPUNGEs, which come from the source mailbox's events like those of
// Expunge and are written by the poll that follows the command.
func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if _, err := s.writable(); err != nil {
		return err
	}
	data, err := s.transfer(numSet, dest, "move", func(m message) (mailstore.Message, error) {
		return s.srv.store.Move(s.srv.ctx, m.id, dest, mailstore.Local)
	})
	if err != nil || data == nil {
		return err
	}
	return w.WriteCopyData(data)
}

// transfer copies or moves the messages of numSet to dest one by one and
// returns the UID pairs; nil data when nothing was transferred.
func (s *session) transfer(numSet imap.NumSet, dest, op string, do func(message) (mailstore.Message, error)) (*imap.CopyData, error) {
	v := s.view
	if err := v.checkSeqSet(numSet); err != nil {
		return nil, err
	}
	mb, err := s.srv.store.MailboxRef(s.srv.ctx, dest)
	if err != nil {
		return nil, tryCreate(op, err)
	}
	if err := v.box.ensureDetails(s.srv.ctx, s.srv.store); err != nil {
		return nil, err
	}
	var src, dst imap.UIDSet
	for _, m := range v.choose(numSet) {
		if !m.loaded {
			continue
		}
		out, err := do(m.message)
		if errors.Is(err, mailstore.ErrNotFound) {
			// Either the message went away meanwhile (skip it) or the
			// destination did (tell the client).
			if _, merr := s.srv.store.MailboxRef(s.srv.ctx, dest); merr != nil {
				return nil, tryCreate(op, merr)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("imapd: %s uid %d to %q: %w", op, m.uid, dest, err)
		}
		s.srv.noteMessage(out)
		// UIDs are handed out in increasing order and chosen messages come
		// in UID order, so the two sets pair up in order (RFC 4315 §3).
		src.AddNum(imap.UID(m.uid))
		dst.AddNum(imap.UID(out.UID))
	}
	if len(src) == 0 {
		return nil, nil
	}
	return &imap.CopyData{UIDValidity: mb.UIDValidity, SourceUIDs: src, DestUIDs: dst}, nil
}
