package main

import (
	"fmt"
	"time"
)

func init() {
	register(verb{
		words:    "keys audit",
		synopsis: "[--account ADDRESS | --dir DIR]",
		help: `show what the bridge found in its provider's transparency log

The running bridge checks, after it syncs and at most once a minute, that
every signet its provider logged for the account's address is one of the
account's own chain, that the provider serves the account's own key as
current, and that the log only ever grows. A finding is an alarm: someone —
the provider, or whoever controls it — may be showing others a key in your
name. Each alarm is also put in the inbox.

Reads the running bridge's status. Exit status 1 when there is an alarm,
or when the bridge has not audited yet.`,
		run: runKeysAudit,
	})
}

func runKeysAudit(c *cmd) error {
	st, err := runningStatus(c)
	if err != nil {
		return err
	}
	a := st.Audit
	if a == nil {
		return fmt.Errorf("the bridge of %s has not audited its provider's log yet (it does after its first sync)", st.Address)
	}
	w := c.stdout
	if a.NoLog {
		fmt.Fprintf(w, "%s: the provider names no transparency log; nothing to audit (%s)\n", st.Address, a.At.Format(time.DateTime))
		return nil
	}
	fmt.Fprintf(w, "%s: %d records of the provider's log checked, last at %s\n", st.Address, a.Checked, a.At.Format(time.DateTime))
	if len(a.Alarms) == 0 {
		fmt.Fprintln(w, "no alarm: every signet logged for this address is the account's own")
		return nil
	}
	for _, f := range a.Alarms {
		fmt.Fprintf(w, "ALARM  %s\n", f)
	}
	return fmt.Errorf("%d alarms: a key in your name that is not yours", len(a.Alarms))
}
