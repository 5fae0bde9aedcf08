# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module_util behind rds_iam_grants against botocore's Stubber: the calls made (reads first, writes only
where something differs), check mode, split growth and shrink, absent, and one principal's failure."""

from __future__ import annotations

import datetime
import json
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _iam_grants

ACCOUNT = "444455556666"
PATH = "/dbauth-rds-iam/"
PREFIX = "rds-iam-connect-"
TAGS = {"managed-by": "dbauth.rds_iam.iam_access"}
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
RETRY = AWSRetry.jittered_backoff(retries=1, delay=0)
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

pytestmark = pytest.mark.usefixtures("clean_env")


def document(*users):
    return {"Version": "2012-10-17", "Statement": [{"Sid": "RdsIamConnect", "Effect": "Allow", "Action": "rds-db:connect",
                                                    "Resource": ["arn:aws:rds-db:us-west-2:%s:dbuser:db-X/%s" % (ACCOUNT, u)
                                                                 for u in users]}]}


def policy_arn(name):
    return "arn:aws:iam::%s:policy%s%s" % (ACCOUNT, PATH, name)


def principal(name, trust="ec2", parts=1, users=("app",), instance_profile=None):
    policies = []
    for part in range(1, parts + 1):
        pname = _iam_grants.policy_name(PREFIX, name, part)
        policies.append({"name": pname, "arn": policy_arn(pname), "document": document(*["%s%d" % (u, part) for u in users])})
    return {
        "name": name, "trust": trust, "trust_document": None if trust is None else EC2_TRUST, "path": None,
        "description": None, "max_session_duration": None,
        "instance_profile": trust == "ec2" if instance_profile is None else instance_profile, "policies": policies,
    }


def params(principals, state="present"):
    return {"principals": principals, "policy_path": PATH, "policy_prefix": PREFIX, "role_path": "/", "tags": dict(TAGS),
            "max_policies": 20, "state": state, "concurrency": 1}


class Iam:
    def __init__(self):
        self.client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="AKIDUNITTEST",
                                   aws_secret_access_key="not-used")
        self.stub = Stubber(self.client)
        self.calls = []
        self.client.meta.events.register("after-call", lambda model, **kw: self.calls.append(model.name))
        self.stub.activate()
        self.wrapped = RetryingBotoClientWrapper(self.client, RETRY)

    def add(self, op, response=None, expected=None):
        self.stub.add_response(op, response or {}, expected)

    def error(self, op, code, expected=None):
        self.stub.add_client_error(op, service_error_code=code, service_message=code, http_status_code=400,
                                   expected_params=expected)

    def writes(self):
        return [c for c in self.calls if not c.startswith(("Get", "List"))]


def listed(*names, attachments=1):
    return {"Policies": [{"PolicyName": n, "Arn": policy_arn(n), "Path": PATH, "DefaultVersionId": "v1",
                          "AttachmentCount": attachments} for n in names], "IsTruncated": False}


def role(name, tags=None, trust=None, description="RDS IAM database access (managed by dbauth.rds_iam.iam_access)"):
    tags = TAGS if tags is None else tags
    trust = EC2_TRUST if trust is None else trust
    return {"Role": {"Path": "/", "RoleName": name, "RoleId": "AROA" + "X" * 17, "CreateDate": NOW,
                     "Arn": "arn:aws:iam::%s:role/%s" % (ACCOUNT, name), "Description": description,
                     "AssumeRolePolicyDocument": quote(json.dumps(trust)),
                     "MaxSessionDuration": 3600, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}}


def add_policy_reads(iam, name, doc, version="v1"):
    iam.add("get_policy", {"Policy": {"PolicyName": name, "Arn": policy_arn(name), "Path": PATH, "DefaultVersionId": version,
                                      "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()]}}, {"PolicyArn": policy_arn(name)})
    iam.add("get_policy_version", {"PolicyVersion": {"Document": quote(json.dumps(doc)), "VersionId": version,
                                                     "IsDefaultVersion": True}},
            {"PolicyArn": policy_arn(name), "VersionId": version})


def add_existing_reads(iam, p, docs=None, attached=None, profile=True):
    iam.add("get_role", role(p["name"]), {"RoleName": p["name"]})
    attached = [x["arn"] for x in p["policies"]] if attached is None else attached
    iam.add("list_attached_role_policies", {"AttachedPolicies": [{"PolicyArn": a, "PolicyName": a.rsplit("/", 1)[1]}
                                                                 for a in attached], "IsTruncated": False},
            {"RoleName": p["name"]})
    if p["instance_profile"]:
        profiles = [{"Path": "/", "InstanceProfileName": p["name"], "InstanceProfileId": "AIPA" + "X" * 17,
                     "Arn": "arn:aws:iam::%s:instance-profile/%s" % (ACCOUNT, p["name"]), "CreateDate": NOW, "Roles": []}]
        iam.add("list_instance_profiles_for_role", {"InstanceProfiles": profiles if profile else [], "IsTruncated": False},
                {"RoleName": p["name"]})


def run(iam, principals, state="present", check_mode=False):
    ensure = _iam_grants.ensure_present if state == "present" else _iam_grants.ensure_absent
    result = ensure(iam.wrapped, params(_iam_grants.copy_principals(principals), state), check_mode, RETRY)
    iam.stub.assert_no_pending_responses()
    return result


def test_create_from_nothing():
    iam = Iam()
    p = principal("app-role")
    name = p["policies"][0]["name"]
    iam.add("list_policies", listed(), {"Scope": "Local", "PathPrefix": PATH})
    iam.error("get_role", "NoSuchEntity", {"RoleName": "app-role"})
    iam.add("create_policy", {"Policy": {"PolicyName": name, "Arn": policy_arn(name)}},
            {"PolicyName": name, "Path": PATH,
             "PolicyDocument": json.dumps(p["policies"][0]["document"], sort_keys=True, separators=(",", ":")),
             "Description": "rds-db:connect for app-role (managed by dbauth.rds_iam)",
             "Tags": [{"Key": "managed-by", "Value": TAGS["managed-by"]}]})
    iam.add("create_role", role("app-role"))
    iam.add("attach_role_policy", {}, {"RoleName": "app-role", "PolicyArn": policy_arn(name)})
    iam.error("get_instance_profile", "NoSuchEntity")
    iam.add("create_instance_profile", {"InstanceProfile": {
        "Path": "/", "InstanceProfileName": "app-role", "InstanceProfileId": "AIPA" + "X" * 17,
        "Arn": "arn:aws:iam::%s:instance-profile/app-role" % ACCOUNT, "CreateDate": NOW, "Roles": []}})
    iam.add("add_role_to_instance_profile", {}, {"InstanceProfileName": "app-role", "RoleName": "app-role"})
    changed, results, diff, failed, fatal = run(iam, [p])
    assert (changed, failed, fatal) == (True, [], None)
    assert results[0]["role_arn"] == "arn:aws:iam::%s:role/app-role" % ACCOUNT
    assert results[0]["policy_arns"] == [policy_arn(name)] and results[0]["policy_arn"] == policy_arn(name)
    assert results[0]["policy_document"] == p["policies"][0]["document"]
    assert results[0]["actions"][:3] == ["created policy %s" % policy_arn(name), "created role app-role",
                                         "attached %s" % policy_arn(name)]
    assert diff["before"]["principals"]["app-role"] == {"policies": {}, "attached": [], "trust": None}
    assert diff["after"]["principals"]["app-role"]["trust"] == EC2_TRUST


def test_check_mode_makes_no_write_call():
    iam = Iam()
    p = principal("app-role")
    iam.add("list_policies", listed())
    iam.error("get_role", "NoSuchEntity")
    iam.error("get_instance_profile", "NoSuchEntity")
    changed, results, _diff, failed, _fatal = run(iam, [p], check_mode=True)
    assert changed and not failed
    assert iam.writes() == []
    assert results[0]["role_arn"] is None
    assert "created role app-role" in results[0]["actions"]


def test_no_op_reads_only():
    iam = Iam()
    p = principal("app-role")
    iam.add("list_policies", listed(p["policies"][0]["name"]))
    add_existing_reads(iam, p)
    add_policy_reads(iam, p["policies"][0]["name"], p["policies"][0]["document"])
    changed, results, diff, failed, _fatal = run(iam, [p])
    assert not changed and not failed
    assert iam.writes() == []
    assert results[0]["actions"] == [] and results[0]["changed"] is False
    assert diff["before"] == diff["after"]
    assert iam.calls == ["ListPolicies", "GetRole", "ListAttachedRolePolicies", "ListInstanceProfilesForRole",
                         "GetPolicy", "GetPolicyVersion"]


def test_document_changed_new_default_version_and_old_one_deleted():
    iam = Iam()
    p = principal("app-role")
    name = p["policies"][0]["name"]
    iam.add("list_policies", listed(name))
    add_existing_reads(iam, p)
    add_policy_reads(iam, name, document("someone-else"))
    iam.add("create_policy_version", {"PolicyVersion": {"VersionId": "v2", "IsDefaultVersion": True}},
            {"PolicyArn": policy_arn(name), "SetAsDefault": True,
             "PolicyDocument": json.dumps(p["policies"][0]["document"], sort_keys=True, separators=(",", ":"))})
    iam.add("list_policy_versions", {"Versions": [{"VersionId": "v2", "IsDefaultVersion": True},
                                                  {"VersionId": "v1", "IsDefaultVersion": False}], "IsTruncated": False})
    iam.add("delete_policy_version", {}, {"PolicyArn": policy_arn(name), "VersionId": "v1"})
    changed, results, diff, _failed, _fatal = run(iam, [p])
    assert changed and iam.writes() == ["CreatePolicyVersion", "DeletePolicyVersion"]
    assert results[0]["actions"] == ["updated policy %s (new default version, the old one deleted)" % policy_arn(name)]
    assert diff["before"]["principals"]["app-role"]["policies"][name] == document("someone-else")


def test_same_document_in_another_order_is_no_change():
    iam = Iam()
    p = principal("app-role", users=("a", "b"))
    name = p["policies"][0]["name"]
    reordered = json.loads(json.dumps(p["policies"][0]["document"]))
    reordered["Statement"][0]["Resource"].reverse()
    iam.add("list_policies", listed(name))
    add_existing_reads(iam, p)
    add_policy_reads(iam, name, reordered)
    changed, _results, _diff, _failed, _fatal = run(iam, [p])
    assert not changed and iam.writes() == []


def test_split_grows_then_shrinks():
    iam = Iam()
    p = principal("app-role", parts=2)
    first, second = [x["name"] for x in p["policies"]]
    iam.add("list_policies", listed(first))
    add_existing_reads(iam, p, attached=[policy_arn(first)])
    add_policy_reads(iam, first, p["policies"][0]["document"])
    iam.add("create_policy", {"Policy": {"PolicyName": second, "Arn": policy_arn(second)}})
    iam.add("attach_role_policy", {}, {"RoleName": "app-role", "PolicyArn": policy_arn(second)})
    changed, results, _diff, _failed, _fatal = run(iam, [p])
    assert changed and iam.writes() == ["CreatePolicy", "AttachRolePolicy"]
    assert results[0]["policy_arns"] == [policy_arn(first), policy_arn(second)]

    iam = Iam()
    p = principal("app-role", parts=1)
    iam.add("list_policies", listed(first, second, PREFIX + "app-role-other"))
    add_existing_reads(iam, p, attached=[policy_arn(first), policy_arn(second)])
    add_policy_reads(iam, first, p["policies"][0]["document"])
    iam.add("list_entities_for_policy", {"PolicyRoles": [{"RoleName": "app-role"}], "PolicyUsers": [], "PolicyGroups": [],
                                         "IsTruncated": False}, {"PolicyArn": policy_arn(second)})
    iam.add("detach_role_policy", {}, {"RoleName": "app-role", "PolicyArn": policy_arn(second)})
    iam.add("list_policy_versions", {"Versions": [{"VersionId": "v1", "IsDefaultVersion": True}], "IsTruncated": False})
    iam.add("delete_policy", {}, {"PolicyArn": policy_arn(second)})
    changed, results, diff, _failed, _fatal = run(iam, [p])
    assert changed and iam.writes() == ["DetachRolePolicy", "DeletePolicy"]
    assert results[0]["actions"] == ["detached %s from role app-role" % policy_arn(second),
                                     "deleted obsolete policy %s" % policy_arn(second)]
    assert diff["after"]["principals"]["app-role"]["attached"] == [policy_arn(first)]


def test_trustless_principal_without_role_fails_before_any_write():
    iam = Iam()
    ok = principal("new-role")
    gone = principal("existing-role", trust=None)
    iam.add("list_policies", listed())
    iam.error("get_role", "NoSuchEntity", {"RoleName": "new-role"})
    iam.error("get_role", "NoSuchEntity", {"RoleName": "existing-role"})
    changed, results, _diff, failed, fatal = run(iam, [ok, gone])
    assert not changed and failed == ["existing-role"]
    assert "principals existing-role have no trust and there is no IAM role of that name" in fatal
    assert iam.writes() == []
    assert [r.get("failed", False) for r in results] == [False, True]


def test_absent_deletes_only_tagged_roles():
    iam = Iam()
    ours = principal("ours", parts=0)
    theirs = principal("theirs", trust=None, parts=0)
    iam.add("list_policies", listed(PREFIX + "ours", PREFIX + "theirs", PREFIX + "theirs-part2", attachments=0))
    iam.add("get_role", role("ours"), {"RoleName": "ours"})
    iam.add("list_policy_versions", {"Versions": [{"VersionId": "v1", "IsDefaultVersion": True}], "IsTruncated": False})
    iam.add("delete_policy", {}, {"PolicyArn": policy_arn(PREFIX + "ours")})
    iam.add("list_instance_profiles_for_role", {"InstanceProfiles": [{
        "Path": "/", "InstanceProfileName": "ours", "InstanceProfileId": "AIPA" + "X" * 17,
        "Arn": "arn:aws:iam::%s:instance-profile/ours" % ACCOUNT, "CreateDate": NOW, "Roles": []}], "IsTruncated": False})
    iam.add("remove_role_from_instance_profile", {}, {"InstanceProfileName": "ours", "RoleName": "ours"})
    iam.add("delete_instance_profile", {}, {"InstanceProfileName": "ours"})
    iam.add("list_attached_role_policies", {"AttachedPolicies": [], "IsTruncated": False})
    iam.add("list_role_policies", {"PolicyNames": [], "IsTruncated": False})
    iam.add("delete_role", {}, {"RoleName": "ours"})
    iam.add("get_role", role("theirs", tags={}), {"RoleName": "theirs"})
    for name in ("theirs", "theirs-part2"):
        iam.add("list_policy_versions", {"Versions": [{"VersionId": "v1", "IsDefaultVersion": True}], "IsTruncated": False})
        iam.add("delete_policy", {}, {"PolicyArn": policy_arn(PREFIX + name)})
    changed, results, _diff, failed, _fatal = run(iam, [ours, theirs], state="absent")
    assert changed and not failed
    assert [(r["name"], r["role_deleted"], r["changed"]) for r in results] == [("ours", True, True), ("theirs", False, True)]
    assert "DeleteRole" in iam.writes() and iam.writes().count("DeleteRole") == 1


def test_absent_in_check_mode_writes_nothing():
    iam = Iam()
    iam.add("list_policies", listed(PREFIX + "ours"))
    iam.add("get_role", role("ours"))
    changed, results, _diff, _failed, _fatal = run(iam, [principal("ours", parts=0)], state="absent", check_mode=True)
    assert changed and results[0]["role_deleted"] and iam.writes() == []


def test_one_failing_principal_does_not_hide_the_others():
    iam = Iam()
    bad = principal("bad-role")
    good = principal("good-role")
    iam.add("list_policies", listed(good["policies"][0]["name"]))
    iam.error("get_role", "AccessDenied", {"RoleName": "bad-role"})
    add_existing_reads(iam, good)
    add_policy_reads(iam, good["policies"][0]["name"], good["policies"][0]["document"])
    changed, results, _diff, failed, fatal = run(iam, [bad, good])
    assert fatal is None and failed == ["bad-role"] and not changed
    assert results[0]["failed"] and "AccessDenied" in results[0]["msg"] and "bad-role" in results[0]["msg"]
    assert results[1]["name"] == "good-role" and not results[1].get("failed")


def test_validate():
    good = params([principal("a")])
    assert _iam_grants.validate(good) is None
    assert "tags" in _iam_grants.validate(dict(good, tags={}))
    assert "more than once" in _iam_grants.validate(params([principal("a"), principal("a")]))
    wrong = principal("a")
    wrong["policies"][0]["name"] = "other-a"
    assert "does not follow the naming" in _iam_grants.validate(params([wrong]))


@pytest.mark.parametrize("policy, owner", [
    (PREFIX + "app", "app"), (PREFIX + "app-part3", "app"), (PREFIX + "app-partx", "app-partx"), ("other-app", None),
    (PREFIX, None),
])
def test_owner_of_a_policy_name(policy, owner):
    assert _iam_grants.owner_of(PREFIX, policy) == owner


def prune_params(principals):
    return params(_iam_grants.copy_principals(principals))


def test_prune_removes_what_carries_the_tags_and_refuses_the_rest():
    iam = Iam()
    gone, handmade = PREFIX + "gone", PREFIX + "handmade"
    iam.add("list_policies", listed(PREFIX + "kept", gone, handmade), {"Scope": "Local", "PathPrefix": PATH})
    iam.add("list_policy_tags", {"Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()], "IsTruncated": False},
            {"PolicyArn": policy_arn(gone)})
    iam.add("get_role", role("gone"), {"RoleName": "gone"})
    iam.add("list_policy_tags", {"Tags": [], "IsTruncated": False}, {"PolicyArn": policy_arn(handmade)})
    changed, results, diff, refused = _iam_grants.prune(iam.wrapped, prune_params([principal("kept")]), True, RETRY)
    iam.stub.assert_no_pending_responses()
    assert changed and iam.writes() == []
    assert [(r["name"], r["role_deleted"]) for r in results] == [("gone", True)]
    assert results[0]["actions"] == ["deleted policy %s" % policy_arn(gone), "deleted role gone"]
    assert diff["before"]["principals"]["gone"]["policies"] == [policy_arn(gone)]
    assert len(refused) == 1 and refused[0].startswith("handmade: the policies %s do not carry the tags" % handmade)
