# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of rds_iam_blue_green against botocore's Stubber: the switchover is started once, waited for with a
botocore waiter, skipped in check mode and when done, refused in states that allow none; the resource ids of both
sides are returned."""

from __future__ import annotations

import botocore.waiter
import pytest

from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_blue_green
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import ACCOUNT
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import REGION
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import run_module

pytestmark = pytest.mark.usefixtures("clean_env")

BY_NAME = {"Filters": [{"Name": "blue-green-deployment-name", "Values": ["app-upgrade"]}]}
BY_ID = {"Filters": [{"Name": "blue-green-deployment-identifier", "Values": ["bgd-1"]}]}
BLUE_ID = "db-BLUEBLUEBLUEBLUEBLUEBLUE1"
GREEN_ID = "db-GREENGREENGREENGREENGREE1"


def arn(name):
    return "arn:aws:rds:%s:%s:db:%s" % (REGION, ACCOUNT, name)


def deployment(status, source="app", target="app-green-abcdef"):
    return {"BlueGreenDeployments": [{"BlueGreenDeploymentIdentifier": "bgd-1", "BlueGreenDeploymentName": "app-upgrade",
                                      "Source": arn(source), "Target": arn(target), "Status": status}]}


def instances(*pairs):
    return {"DBInstances": [{"DBInstanceIdentifier": name, "DbiResourceId": rid, "DBInstanceArn": arn(name)}
                            for name, rid in pairs]}


def members(rds, source, target, source_id, target_id):
    rds.add_response("describe_db_instances", instances((source, source_id), (target, target_id)),
                     {"Filters": [{"Name": "db-instance-id", "Values": sorted([source, target])}]})


def run(args, capsys, check_mode=False):
    return run_module(rds_iam_blue_green.main, args, capsys, check_mode)


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(botocore.waiter.time, "sleep", slept.append)
    return slept


def test_switchover_started_once_waited_for_and_the_ids_returned(aws, capsys, no_sleep):
    rds = aws.stubber("rds")
    rds.add_response("describe_blue_green_deployments", deployment("AVAILABLE"), BY_NAME)
    rds.add_response("switchover_blue_green_deployment", {"BlueGreenDeployment": deployment("SWITCHOVER_IN_PROGRESS")[
        "BlueGreenDeployments"][0]}, {"BlueGreenDeploymentIdentifier": "bgd-1", "SwitchoverTimeout": 300})
    rds.add_response("describe_blue_green_deployments", deployment("SWITCHOVER_IN_PROGRESS"), BY_ID)
    done = deployment("SWITCHOVER_COMPLETED", source="app-old1", target="app")
    rds.add_response("describe_blue_green_deployments", done, BY_ID)
    rds.add_response("describe_blue_green_deployments", done, BY_ID)
    members(rds, "app-old1", "app", BLUE_ID, GREEN_ID)
    result = run({"blue_green_deployment_name": "app-upgrade"}, capsys)
    assert result["changed"] is True
    assert aws.requests.count("SwitchoverBlueGreenDeployment") == 1
    assert no_sleep == [5]  # one poll while in progress, the botocore waiter's delay
    found = result["blue_green_deployment"]
    assert found["switched_over"] is True and found["status"] == "SWITCHOVER_COMPLETED"
    assert found["source"] == {"kind": "instance", "identifier": "app-old1", "arn": arn("app-old1"), "resource_id": BLUE_ID}
    assert found["target"] == {"kind": "instance", "identifier": "app", "arn": arn("app"), "resource_id": GREEN_ID}
    assert result["diff"] == {"before": {"status": "AVAILABLE"}, "after": {"status": "SWITCHOVER_COMPLETED"}}


def test_check_mode_reports_the_change_and_starts_nothing(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response("describe_blue_green_deployments", deployment("AVAILABLE"), BY_ID)
    members(rds, "app", "app-green-abcdef", BLUE_ID, GREEN_ID)
    result = run({"blue_green_deployment_identifier": "bgd-1"}, capsys, check_mode=True)
    assert result["changed"] is True
    assert "SwitchoverBlueGreenDeployment" not in aws.requests
    assert result["blue_green_deployment"]["target"]["resource_id"] == GREEN_ID


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_completed_switchover_is_left_alone(aws, capsys, check_mode):
    rds = aws.stubber("rds")
    rds.add_response("describe_blue_green_deployments", deployment("SWITCHOVER_COMPLETED", "app-old1", "app"), BY_ID)
    members(rds, "app-old1", "app", BLUE_ID, GREEN_ID)
    result = run({"blue_green_deployment_identifier": "bgd-1"}, capsys, check_mode=check_mode)
    assert result["changed"] is False
    assert aws.requests == ["DescribeBlueGreenDeployments", "DescribeDBInstances"]


@pytest.mark.parametrize("status", ["PROVISIONING", "INVALID_CONFIGURATION", "SWITCHOVER_FAILED", "DELETING"])
def test_states_that_allow_no_switchover_fail_before_any_change(aws, capsys, status):
    rds = aws.stubber("rds")
    rds.add_response("describe_blue_green_deployments", deployment(status), BY_ID)
    result = run({"blue_green_deployment_identifier": "bgd-1"}, capsys)
    assert result["failed"] is True and status in result["msg"]
    assert aws.requests == ["DescribeBlueGreenDeployments"]


def test_present_only_reads(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response("describe_blue_green_deployments", deployment("PROVISIONING"), BY_ID)
    members(rds, "app", "app-green-abcdef", BLUE_ID, GREEN_ID)
    result = run({"blue_green_deployment_identifier": "bgd-1", "state": "present"}, capsys)
    assert result["changed"] is False and result["blue_green_deployment"]["status"] == "PROVISIONING"


def test_bad_input_and_a_missing_deployment(aws, capsys):
    rds = aws.stubber("rds")
    result = run({"blue_green_deployment_identifier": "bgd-1", "switchover_timeout": 10}, capsys)
    assert "switchover_timeout is 10" in result["msg"]
    result = run({"blue_green_deployment_identifier": "bgd-1", "blue_green_deployment_name": "x"}, capsys)
    assert "mutually exclusive" in result["msg"]
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []}, BY_NAME)
    result = run({"blue_green_deployment_name": "app-upgrade"}, capsys)
    assert result["failed"] is True and "no Blue/Green deployment app-upgrade" in result["msg"]
    assert "SwitchoverBlueGreenDeployment" not in aws.requests


def test_a_failed_switchover_ends_the_wait_with_an_error(aws, capsys, no_sleep):
    rds = aws.stubber("rds")
    rds.add_response("describe_blue_green_deployments", deployment("SWITCHOVER_IN_PROGRESS"), BY_ID)
    rds.add_response("describe_blue_green_deployments", deployment("SWITCHOVER_FAILED"), BY_ID)
    result = run({"blue_green_deployment_identifier": "bgd-1"}, capsys)
    assert result["failed"] is True and "did not complete" in result["msg"]
    assert "SwitchoverBlueGreenDeployment" not in aws.requests
