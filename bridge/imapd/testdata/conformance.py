#!/usr/bin/env python3
"""Differential IMAP conformance suite (issue 10).

Runs the same exchanges against the bridge's IMAP server and against
Dovecot (TestConformance in conformance_test.go starts both) and asserts
what RFC 3501 (IMAP4rev1) and RFC 9051 (IMAP4rev2) require of both. Where
Dovecot and the RFC, or Dovecot and the bridge, legitimately differ, the
check says so in a comment starting DIFF, and asserts what each must do.

The account must be fresh: INBOX, Sent, Drafts, Trash, Junk and Archive
(special use), all subscribed, "/" as the delimiter, no messages.

Usage: conformance.py --host H --port P --user U --password W --server {umbra,dovecot}
Prints each failure, then "exchanges: N"; exits 1 if anything failed.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conf_changes import (test_concurrent_stores, test_condstore, test_copy_move_expunge,  # noqa: E402
                          test_search, test_store)
from conf_edges import test_edges, test_state  # noqa: E402
from conf_extensions import test_extensions  # noqa: E402
from conf_mime import test_mime  # noqa: E402
from conf_mailboxes import test_mailboxes, test_subscriptions  # noqa: E402
from conf_qresync import test_qresync  # noqa: E402
from conf_sort import test_sort_thread  # noqa: E402
from conf_messages import test_append, test_fetch, test_select  # noqa: E402
from conf_session import test_idle, test_imaplib, test_preauth, test_syntax  # noqa: E402
from conflib import Suite  # noqa: E402
from imapwire import Conn  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--server", choices=["umbra", "dovecot"], required=True)
    s = Suite(p.parse_args())
    for test in [test_preauth, test_mailboxes, test_subscriptions, test_append, test_select, test_fetch,
                 test_store, test_copy_move_expunge, test_search, test_idle, test_syntax, test_imaplib,
                 test_concurrent_stores, test_condstore, test_qresync, test_sort_thread, test_extensions, test_edges, test_state, test_mime]:
        before = len(s.failures)
        try:
            test(s)
        except Exception as e:  # noqa: BLE001 - one broken group must not hide the others
            s.check(False, "%s raised %r" % (test.__name__, e))
        print("%s: %s" % (test.__name__, "ok" if len(s.failures) == before else "%d failures" % (len(s.failures) - before)),
              flush=True)
    print("exchanges: %d" % Conn.counter)
    print("failures: %d" % len(s.failures))
    sys.exit(1 if s.failures else 0)


if __name__ == "__main__":
    main()
