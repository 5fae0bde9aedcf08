"""Blue/Green deployments in the lab (rds_iam_lab.blue_green): the green is a database of its own, and the
switchover moves names and endpoints but keeps resource ids, as RDS does:

* RDS user guide, "Overview of Amazon RDS Blue/Green Deployments": the green environment is a copy of the blue
  (its own DB instance, so its own ``DbiResourceId``; the IAM setting copied);
* RDS user guide, "Switching a blue/green deployment in Amazon RDS": the green takes the blue's name and endpoint,
  the blue is renamed with ``-old1``; RDS API reference, "DBInstance": ``DbiResourceId`` is immutable.

So a policy on the blue's resource id stops opening the name after the switchover, and one on the green's id
starts. Real logins through the relays (verify-full), the deployment driven with boto3 against the lab's API.
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from lab.tests import test_logins
from lab.tests.test_logical_databases import USER, add, create_user, expect_refused, iam_user, set_iam, token
from lab.tests.test_logins import login

lab = test_logins.lab  # a lab of its own for this module

BLUES = {"bg-mysql": "lab-mysql", "bg-postgres": "lab-postgres"}  # logical blue -> the server that serves it


@pytest.fixture(scope="module")
def deployed(lab, tmp_path_factory):
    """Each blue with IAM on and USER, a Blue/Green deployment of it -> {blue: deployment description}."""
    add(lab, tmp_path_factory.mktemp("bg"), [{"id": b, "kind": "instance", "server": s} for b, s in BLUES.items()])
    lab.refresh()
    rds = lab.aws("rds")
    result = {}
    for blue, server in BLUES.items():
        create_user(lab, server)
        set_iam(lab, blue, True)
        arn = rds.describe_db_instances(DBInstanceIdentifier=blue)["DBInstances"][0]["DBInstanceArn"]
        result[blue] = rds.create_blue_green_deployment(BlueGreenDeploymentName=f"{blue}-upgrade",
                                                        Source=arn)["BlueGreenDeployment"]
    lab.refresh()
    return result


def _green_id(deployment):
    return deployment["Target"].split(":")[-1]


@pytest.mark.parametrize("blue", sorted(BLUES))
def test_switchover_moves_the_name_and_keeps_resource_ids(lab, deployed, blue):
    rds = lab.aws("rds")
    green = _green_id(deployed[blue])
    before = {d: lab.db(d) for d in (blue, green)}
    assert before[green]["logical"] and before[green]["served_by"] == BLUES[blue]
    assert before[green]["resource_id"] != before[blue]["resource_id"]
    assert before[green]["endpoint"]["port"] != before[blue]["endpoint"]["port"]
    assert before[green]["iam_database_authentication_enabled"] is True  # copied from the blue
    blue_id, green_id = before[blue]["resource_id"], before[green]["resource_id"]
    on_blue = iam_user(lab, f"{blue}-on-blue", [blue_id])
    on_green = iam_user(lab, f"{blue}-on-green", [green_id])

    # before: the name is the blue; the green answers on its own endpoint with its own id
    assert login(lab, blue, USER, token(lab, on_blue, blue)) == (USER, True)
    expect_refused(lab, blue, USER, token(lab, on_green, blue), "policy_implicit_deny")
    assert login(lab, green, USER, token(lab, on_green, green)) == (USER, True)
    expect_refused(lab, green, USER, token(lab, on_blue, green), "policy_implicit_deny")

    switched = rds.switchover_blue_green_deployment(
        BlueGreenDeploymentIdentifier=deployed[blue]["BlueGreenDeploymentIdentifier"])["BlueGreenDeployment"]
    assert switched["Status"] == "SWITCHOVER_IN_PROGRESS"
    described = rds.describe_blue_green_deployments(
        BlueGreenDeploymentIdentifier=deployed[blue]["BlueGreenDeploymentIdentifier"])["BlueGreenDeployments"][0]
    assert described["Status"] == "SWITCHOVER_COMPLETED"
    lab.refresh()

    old = f"{blue}-old1"
    after = {d: lab.db(d) for d in (blue, old)}
    assert after[blue]["resource_id"] == green_id and after[old]["resource_id"] == blue_id
    assert after[blue]["endpoint"] == before[blue]["endpoint"]  # the name keeps its endpoint
    assert after[old]["endpoint"] == before[green]["endpoint"]
    assert green not in {d["id"] for d in lab.status["databases"]}
    rds_view = rds.describe_db_instances(DBInstanceIdentifier=blue)["DBInstances"][0]
    assert rds_view["DbiResourceId"] == green_id and rds_view["Endpoint"]["Port"] == before[blue]["endpoint"]["port"]

    # after: the same endpoint now checks the green's resource id; the old blue answers under its new name
    expect_refused(lab, blue, USER, token(lab, on_blue, blue), "policy_implicit_deny")
    assert lab.log_entries()[-1]["database"] == blue
    assert login(lab, blue, USER, token(lab, on_green, blue)) == (USER, True)
    assert login(lab, old, USER, token(lab, on_blue, old)) == (USER, True)
    expect_refused(lab, old, USER, token(lab, on_green, old), "policy_implicit_deny")


def test_deleting_a_deployment_with_its_green_removes_the_green_endpoint(lab, deployed, tmp_path):
    add(lab, tmp_path, [{"id": "bg-gone", "kind": "instance", "server": "lab-mysql"}])
    rds = lab.aws("rds")
    arn = rds.describe_db_instances(DBInstanceIdentifier="bg-gone")["DBInstances"][0]["DBInstanceArn"]
    made = rds.create_blue_green_deployment(BlueGreenDeploymentName="bg-gone-upgrade", Source=arn)
    green = _green_id(made["BlueGreenDeployment"])
    lab.refresh()
    assert lab.db(green)["logical"]
    rds.delete_blue_green_deployment(
        BlueGreenDeploymentIdentifier=made["BlueGreenDeployment"]["BlueGreenDeploymentIdentifier"], DeleteTarget=True)
    lab.refresh()
    assert green not in {d["id"] for d in lab.status["databases"]}
    assert "bg-gone" in {d["id"] for d in lab.status["databases"]}


def test_a_server_of_the_lab_cannot_be_deployed(lab, deployed):
    rds = lab.aws("rds")
    arn = rds.describe_db_instances(DBInstanceIdentifier="lab-postgres")["DBInstances"][0]["DBInstanceArn"]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        rds.create_blue_green_deployment(BlueGreenDeploymentName="server-upgrade", Source=arn)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"
    lab.refresh()
    assert [d["id"] for d in lab.status["databases"] if d["id"].startswith("lab-postgres-green")] == []
    assert rds.describe_blue_green_deployments(
        Filters=[{"Name": "blue-green-deployment-name", "Values": ["server-upgrade"]}])["BlueGreenDeployments"] == []
