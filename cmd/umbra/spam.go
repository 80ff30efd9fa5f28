package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"umbra/bridge"
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
	register(verb{
		words:    "spam train",
		synopsis: "--spam|--ham FOLDER",
		help: `Train the spam filter on every message of FOLDER.

--spam trains them as spam, --ham as ham; a message trained the other
way before is taken back first, so each message counts once. The
messages stay where they are. This does what a mail client does when
it sets the $Junk or $NotJunk keyword, through the running bridge's
IMAP server, which needs the bridge's password: the vault password is
asked for (or read with --password-file). The bridge trains in the
background and syncs the counts to your other devices; see 'umbra spam
status'.`,
		run: runSpamTrain,
	})
}

func runSpamTrain(c *cmd) error {
	dir, account := bridgeDir(c)
	asSpam := c.flags.Bool("spam", false, "train the messages as spam")
	asHam := c.flags.Bool("ham", false, "train the messages as ham (not spam)")
	password := passwordFlag(c.flags, "password-file", "UMBRA_PASSWORD", "Vault password", "the vault password")
	args, err := c.parse(1, 1)
	if err != nil {
		return err
	}
	if *asSpam == *asHam {
		return errors.New("give one of --spam and --ham")
	}
	d, err := resolveBridgeDir(*dir, *account)
	if err != nil {
		return err
	}
	st, err := bridge.ReadStatus(d)
	if err != nil {
		return err
	}
	if len(st.IMAP) == 0 {
		return fmt.Errorf("the bridge of %s serves no IMAP", st.Address)
	}
	pw, err := password.get(newPrompter(c), false)
	if err != nil {
		return err
	}
	_, keys, err := openAccount(d, pw)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	mailPassword, err := bridge.CurrentPassword(ctx, d, keys)
	keys.Zero()
	if err != nil {
		return err
	}
	add, remove := imap.Flag("$Junk"), imap.Flag("$NotJunk")
	what := "spam"
	if *asHam {
		add, remove, what = remove, add, "ham"
	}
	n, err := markFolder(st.IMAP[0], st.Address, mailPassword, args[0], add, remove)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%d messages of %s marked %s; the bridge trains on them now ('umbra spam status' shows the counts)\n", n, args[0], what)
	return nil
}

// markFolder sets keyword add on every message of folder, after taking
// remove away: the bridge trains on the keyword a message has after each
// change, so the opposite one must go first.
func markFolder(addr, user, password, folder string, add, remove imap.Flag) (uint32, error) {
	ic, err := imapclient.DialInsecure(addr, nil) // loopback: the bridge allows plaintext there
	if err != nil {
		return 0, fmt.Errorf("connect to the bridge's IMAP at %s: %w", addr, err)
	}
	defer ic.Close()
	if err := ic.Login(user, password).Wait(); err != nil {
		return 0, fmt.Errorf("log in to the bridge: %w", err)
	}
	sel, err := ic.Select(folder, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("folder %s: %w", folder, err)
	}
	if sel.NumMessages == 0 {
		return 0, nil
	}
	all := imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}
	for _, f := range []*imap.StoreFlags{
		{Op: imap.StoreFlagsDel, Flags: []imap.Flag{remove}, Silent: true},
		{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{add}, Silent: true},
	} {
		if err := ic.Store(all, f, nil).Close(); err != nil {
			return 0, fmt.Errorf("mark the messages of %s: %w", folder, err)
		}
	}
	return sel.NumMessages, ic.Logout().Wait()
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
