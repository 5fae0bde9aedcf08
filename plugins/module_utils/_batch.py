# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""Helpers of the modes that handle many entries in one invocation: a bounded thread pool that
returns results in input order, a signer shared by its threads, option specs for entries.

The modules that handle many databases or logins in one invocation (rds_iam_db_user with
``databases``, rds_iam_verify with ``logins``) spend their time waiting for the network, so a
few threads overlap those waits; ``concurrency`` bounds the connections open at once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

from concurrent.futures import ThreadPoolExecutor

DEFAULT_CONCURRENCY = 8

CONCURRENCY_SPEC = dict(type="int", default=DEFAULT_CONCURRENCY)


def optional_spec(spec):
    """An argument spec entry without required/default: for options that an entry or the top level may give."""
    spec = dict(spec)
    spec.pop("required", None)
    spec.pop("default", None)
    return spec


def check_concurrency(value):
    """The error message for a bad ``concurrency`` option, or None."""
    if value is None or value < 1:
        return "concurrency must be at least 1 (got %s)." % (value,)
    return None


def run_bounded(func, entries, concurrency):
    """[func(index, entry) for each entry], at most ``concurrency`` at a time, in input order.

    ``func`` must not raise for an entry's own failure: it returns that entry's failure result,
    so that one broken entry never hides the others.
    """
    entries = list(entries)
    if not entries:
        return []
    workers = max(1, min(int(concurrency), len(entries)))
    if workers == 1:
        return [func(index, entry) for index, entry in enumerate(entries)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, range(len(entries)), entries))


class LockedSigner:
    """A TokenSigner shared by the pool's threads: one at a time, so that the credentials behind
    the tokens are resolved once (the signer caches them per principal) and each entry still gets
    its own freshly signed token."""

    def __init__(self, signer, lock=None):
        self._signer = signer
        self._lock = lock or threading.Lock()

    def generate(self, options, **kwargs):
        with self._lock:
            return self._signer.generate(options, **kwargs)
