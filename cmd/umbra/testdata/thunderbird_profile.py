#!/usr/bin/env python3
"""Write a Thunderbird profile with one IMAP account at the Umbra bridge.

Usage: thunderbird_profile.py SETTINGS.json

SETTINGS.json holds {"profile", "cafile", "port", "username", "password",
"address"}. The profile directory must exist and be empty. The script makes
its NSS database (cert9.db, key4.db, as Thunderbird keeps them) with
certutil, imports the bridge's CA trusted to identify servers ("C,,", what
Thunderbird's "trust this CA to identify websites" sets), saves the IMAP
password in logins.json encrypted with the database's SDR key (as
Thunderbird's password manager does, through libnss3), and writes prefs.js:
IMAP at localhost:port with STARTTLS required, the password saved, mail
checked at startup, INBOX kept offline. Any failure raises.
"""
import base64
import ctypes
import json
import os
import subprocess
import sys
import time
import uuid


class SECItem(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint), ("data", ctypes.c_void_p), ("len", ctypes.c_uint)]


def sdr_encrypter(profile):
    """Open the profile's NSS database and return an SDR encrypting
    function and a closing one."""
    nss = ctypes.CDLL("libnss3.so")
    nss.NSS_InitReadWrite.argtypes = [ctypes.c_char_p]
    nss.PK11_GetInternalKeySlot.restype = ctypes.c_void_p
    nss.PK11_Authenticate.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    nss.PK11_FreeSlot.argtypes = [ctypes.c_void_p]
    nss.PK11SDR_Encrypt.argtypes = [ctypes.POINTER(SECItem)] * 3 + [ctypes.c_void_p]
    if nss.NSS_InitReadWrite(b"sql:" + profile.encode()) != 0:
        raise RuntimeError("NSS_InitReadWrite failed")
    slot = nss.PK11_GetInternalKeySlot()
    if nss.PK11_Authenticate(slot, 1, None) != 0:  # empty password
        raise RuntimeError("PK11_Authenticate failed")

    def encrypt(text):
        raw = text.encode()
        buf = ctypes.create_string_buffer(raw, len(raw))
        data = SECItem(0, ctypes.cast(buf, ctypes.c_void_p), len(raw))
        keyid, out = SECItem(0, None, 0), SECItem(0, None, 0)
        if nss.PK11SDR_Encrypt(ctypes.byref(keyid), ctypes.byref(data), ctypes.byref(out), None) != 0:
            raise RuntimeError("PK11SDR_Encrypt failed")
        return base64.b64encode(ctypes.string_at(out.data, out.len)).decode()

    def close():
        nss.PK11_FreeSlot(slot)
        if nss.NSS_Shutdown() != 0:
            raise RuntimeError("NSS_Shutdown failed")

    return encrypt, close


def main():
    with open(sys.argv[1]) as f:
        st = json.load(f)
    profile = st["profile"]
    db = "sql:" + profile
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-d", db, "-n", "umbra bridge", "-t", "C,,", "-i", st["cafile"]], check=True)

    encrypt, close = sdr_encrypter(profile)
    now = int(time.time() * 1000)
    origin = "imap://localhost"
    login = {
        "id": 1, "hostname": origin, "httpRealm": origin, "formSubmitURL": None,
        "usernameField": "", "passwordField": "",
        "encryptedUsername": encrypt(st["username"]), "encryptedPassword": encrypt(st["password"]),
        "guid": "{%s}" % uuid.uuid4(), "encType": 1,
        "timeCreated": now, "timeLastUsed": now, "timePasswordChanged": now, "timesUsed": 1,
    }
    close()
    with open(os.path.join(profile, "logins.json"), "w") as f:
        json.dump({"nextId": 2, "logins": [login], "potentiallyVulnerablePasswords": [],
                   "dismissedBreachAlertsByLoginGUID": {}, "version": 3}, f)

    prefs = {
        "mail.accountmanager.accounts": "account1,account2",
        "mail.accountmanager.defaultaccount": "account1",
        "mail.accountmanager.localfoldersserver": "server2",
        "mail.account.account1.identities": "id1",
        "mail.account.account1.server": "server1",
        "mail.account.account2.server": "server2",
        "mail.identity.id1.fullName": "Umbra test",
        "mail.identity.id1.useremail": st["address"],
        "mail.identity.id1.valid": True,
        "mail.server.server1.type": "imap",
        "mail.server.server1.hostname": "localhost",
        "mail.server.server1.port": st["port"],
        "mail.server.server1.socketType": 2,  # STARTTLS, required
        "mail.server.server1.authMethod": 3,  # password, in the clear (inside TLS)
        "mail.server.server1.userName": st["username"],
        "mail.server.server1.name": st["address"],
        "mail.server.server1.login_at_startup": True,
        "mail.server.server1.check_new_mail": True,
        "mail.server.server1.offline_download": True,
        "mail.server.server1.directory-rel": "[ProfD]ImapMail/localhost",
        "mail.server.server2.type": "none",
        "mail.server.server2.hostname": "Local Folders",
        "mail.server.server2.userName": "nobody",
        "mail.server.server2.name": "Local Folders",
        "mail.server.server2.directory-rel": "[ProfD]Mail/Local Folders",
        "mail.shell.checkDefaultClient": False,
        "mail.provider.suppress_dialog_on_startup": True,
        "mail.startup.enabledMailCheckOnce": True,
        "mailnews.start_page.enabled": False,
        "mail.rights.version": 1,
        "mail.winsearch.firstRunDone": True,
        "app.update.auto": False,
        "app.update.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.reportingpolicy.firstRun": False,
        "mailnews.auto_config.fetchFromISP.enabled": False,
        "extensions.autoDisableScopes": 0,
        "browser.shell.checkDefaultBrowser": False,
        "mail.imap.use_status_for_biff": False,
        "mail.check_all_imap_folders_for_new": True,
    }
    with open(os.path.join(profile, "prefs.js"), "w") as f:
        for k, v in prefs.items():
            f.write("user_pref(%s, %s);\n" % (json.dumps(k), json.dumps(v)))
    print("ok")


if __name__ == "__main__":
    main()
