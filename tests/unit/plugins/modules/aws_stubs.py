# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stubbed AWS for the unit tests of whole modules (argument spec, AnsibleAWSModule, its retry
decorator, exit/fail JSON) against botocore's Stubber.

Only AnsibleAWSModule.client is replaced: it hands out stubbed clients wrapped with the retry
decorator the module asked for, so the module's own retry configuration is what gets tested.
The C(aws) fixture is in conftest.py.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

REGION = "us-west-2"
ACCOUNT = "444455556666"
SECRET = "unit-test-secret-key-must-never-appear"


class Aws:
    """Stubbed boto3 clients by service (by (service, Region) for a Region other than REGION), with a log of every
    request made and of the Region of every client asked for."""

    def __init__(self):
        self.clients = {}
        self.stubbers = {}
        self.requests = []
        self.retry_decorators = []
        self.regions = []

    def stubber(self, service, region=REGION):
        key = service if region == REGION else (service, region)
        if key not in self.stubbers:
            client = boto3.client(
                service, region_name=region, aws_access_key_id="AKIDUNITTEST", aws_secret_access_key="not-used"
            )
            client.meta.events.register("after-call", self._after)
            self.clients[key] = client
            self.stubbers[key] = Stubber(client)
            self.stubbers[key].activate()
        return self.stubbers[key]

    def _after(self, model, **kwargs):
        self.requests.append(model.name)

    def client(self, module, service, retry_decorator=None, region=None, **kwargs):
        region = region or REGION
        self.regions.append((service, region))
        self.stubber(service, region)
        self.retry_decorators.append(retry_decorator)
        client = self.clients[service if region == REGION else (service, region)]
        return client if retry_decorator is None else RetryingBotoClientWrapper(client, retry_decorator)


def cluster_record(name, engine="aurora-postgresql", port=5432, **over):
    """A describe_db_clusters record; the resource id is made from the name."""
    record = {
        "DBClusterIdentifier": name,
        "Engine": engine,
        "EngineVersion": "16.4",
        "Status": "available",
        "DbClusterResourceId": "cluster-%s" % name.upper().replace("-", "").ljust(26, "Y"),
        "DBClusterArn": "arn:aws:rds:%s:%s:cluster:%s" % (REGION, ACCOUNT, name),
        "Endpoint": "%s.cluster-abcdefghijkl.%s.rds.amazonaws.com" % (name, REGION),
        "ReaderEndpoint": "%s.cluster-ro-abcdefghijkl.%s.rds.amazonaws.com" % (name, REGION),
        "Port": port,
        "IAMDatabaseAuthenticationEnabled": True,
    }
    record.update(over)
    return record


def run_module(main, args, capsys, check_mode=False):
    """Run a module's main() with args (plus region and keys); its JSON result, checked for the secret."""
    args = dict(args)
    args.setdefault("region", REGION)
    args.setdefault("access_key", "AKIDUNITTEST")
    args.setdefault("secret_key", SECRET)
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    out = capsys.readouterr().out
    assert SECRET not in out
    return json.loads(out)
