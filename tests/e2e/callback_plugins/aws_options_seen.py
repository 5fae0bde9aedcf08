# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: for each module run, the module's name and the AWS connection options it received.

Writes one JSON line per result to the file named by RDS_IAM_TEST_AWS_OPTIONS_LOG: the resolved module name, the
host, and the endpoint_url and region of the module's invocation (the values its argument spec ended up with,
module_defaults included). Only these two options are kept: credentials never reach the file.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: aws_options_seen
type: aggregate
short_description: Record the AWS endpoint and region each module received (tests only)
description:
  - Writes one JSON line per module result to the file named by E(RDS_IAM_TEST_AWS_OPTIONS_LOG).
"""

import json
import os

from ansible.plugins.callback import CallbackBase

KEPT_OPTIONS = ("endpoint_url", "region")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "aws_options_seen"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, outcome):
        path = os.environ.get("RDS_IAM_TEST_AWS_OPTIONS_LOG")
        module_args = result._result.get("invocation", {}).get("module_args")
        if not path or module_args is None:
            return
        entry = {"module": result._task.resolved_action, "host": result._host.get_name(), "outcome": outcome,
                 "options": {name: module_args.get(name) for name in KEPT_OPTIONS}}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_item_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_item_on_failed(self, result):
        self._record(result, "failed")
