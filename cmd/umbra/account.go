package main

// The device side of an account (issue 5): create, recover, login on a new
// device, devices, revoke, passwd. Every verb works on one account
// directory (default $HOME/.umbra/ADDRESS/) holding the sealed vault, the
// account file and the current signet; the password never leaves the
// device, and no file but the vault holds a secret.

func init() {
	register(verb{
		words:    "account create",
		synopsis: "ADDRESS --invite CODE",
		help: `create your account: make your keys on this device and register them

Generates every key here (signing, encryption, device and storage keys),
and a new 24-word recovery phrase, which is shown once: write it down, then
type back the two words you are asked for. Nothing is registered before
that. With --phrase-out FILE the phrase is written to a new 0600 file
instead and there is no quiz (for scripts: move the file somewhere safe,
off this device). The provider certifies your keys with the invitation code
your operator gave you. The keys are sealed under your password (asked
twice, or --password-file / UMBRA_PASSWORD) in DIR/vault; the password never
leaves this device. --mode cautious also stores that sealed vault at the
provider, so that "umbra account login" can set up a new device with your
address and password alone; paranoid (the default) keeps keys on devices.
The provider's DMAP URL and TLS pin come from its _dime DNS record unless
--server (and --pin) are given.`,
		run: runAccountCreate,
	})
	register(verb{
		words:    "account recover",
		synopsis: "ADDRESS",
		help: `restart your key chain on a new device from your recovery phrase

For when every device is lost. The phrase (asked for, or --phrase-file)
gives back the recovery key; this device makes fresh signing, encryption
and device keys, joins the account with the recovery key, and asks the
provider to certify a new signet that succeeds the old one under the
recovery key's signature, which contacts accept as a chain restart. Mail
sealed to the old encryption key cannot be opened with the new keys. For a
cautious account give --mode cautious, so that the key backup at the
provider is replaced by the new keys.`,
		run: runAccountRecover,
	})
	register(verb{
		words:    "account login",
		synopsis: "ADDRESS",
		help: `set up a new device for a cautious account with address and password

Fetches the account's key backup from the provider (proving the password
without sending it), opens it with the password, adds a new device key to
the account and writes the local vault. Only cautious accounts have a
backup; for a paranoid account, use "account recover".`,
		run: runAccountLogin,
	})
	register(verb{
		words: "account devices",
		help: `list the devices of your account

Logs in with this device's key (unlocking the vault with your password) and
lists every device that may log in: id, name, when it was added and last
seen. This device is marked.`,
		run: runAccountDevices,
	})
	register(verb{
		words:    "account revoke",
		synopsis: "DEVICE-ID",
		help: `revoke one of your devices

The device, given by the id "account devices" shows, can no longer log in,
and its sessions stop at once. Revoking this device logs it out for good.
An id that starts with "-" goes after "--": umbra account revoke -- -AbC….`,
		run: runAccountRevoke,
	})
	register(verb{
		words: "account passwd",
		help: `change the password of this device's vault

Asks for the current password and the new one (twice; or --password-file
and --new-password-file, or UMBRA_PASSWORD and UMBRA_NEW_PASSWORD). The
vault is re-sealed and replaced atomically: a crash leaves the old or the
new file, never a mix. For a cautious account the key backup at the
provider is replaced first, so the old password stops working there too;
if the provider cannot be reached nothing changes.`,
		run: runAccountPasswd,
	})
}
