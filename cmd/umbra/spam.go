package main

import (
	"fmt"
)

func init() {
	register(verb{
		words: "spam status",
		help: `Show the running bridge's spam filter.

The messages the filter was trained on (summed over all your devices:
each trains on what you do in its mail client and syncs its counts,
encrypted), the tokens it knows, and the score from which mail goes to
Junk. Train it from any mail client: move spam into Junk (or set the
$Junk keyword), and move mail the filter put there wrongly out of Junk
(or set $NotJunk). Until it has seen 10 spam and 10 ham it scores mail
but moves nothing. Every message carries its score in X-Umbra-Spam.
Asks the bridge through the socket in the account directory; needs no
password.`,
		run: runSpamStatus,
	})
}

func runSpamStatus(c *cmd) error {
	st, err := runningStatus(c)
	if err != nil {
		return err
	}
	sp := st.Spam
	if sp == nil {
		return fmt.Errorf("the bridge of %s reports no spam filter (an older version?)", st.Address)
	}
	w := c.stdout
	state := "active: mail scoring at or above the threshold goes to Junk"
	if !sp.Active {
		state = fmt.Sprintf("learning: scores mail, moves nothing until trained on %d spam and %d ham", sp.MinTrained, sp.MinTrained)
	}
	fmt.Fprintf(w, "account     %s\n", st.Address)
	fmt.Fprintf(w, "filter      %s\n", state)
	fmt.Fprintf(w, "trained     %d spam, %d ham (from %d device(s))\n", sp.Spam, sp.Ham, sp.Devices)
	fmt.Fprintf(w, "tokens      %d\n", sp.Tokens)
	fmt.Fprintf(w, "threshold   %.4f legacy mail, %.4f dark mail from validated senders\n", sp.Threshold, sp.DarkThreshold)
	if sp.DroppedUpdates > 0 {
		fmt.Fprintf(w, "dropped     %d training events (the bridge was too busy; train those messages again)\n", sp.DroppedUpdates)
	}
	fmt.Fprintf(w, "safe html   %s\n", st.SafeHTML)
	return nil
}
