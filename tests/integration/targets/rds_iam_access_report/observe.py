#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What exists of the prune fixtures and of the rpt_ users, read out of band (boto3 and admin SQL, not the
collection), as JSON: the policies under /dbauth-rpt/, which of the roles dbauth-rpt-gone / -handmade exist, the
rpt_ users of lab-postgres and lab-mysql with whether they carry the collection's marker.

Usage: observe.py --config integration_config.yml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from seed import PRUNE_PATH, PRUNE_PRINCIPALS, clients, mysql_connect, pg_connect


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    config = yaml.safe_load(Path(parser.parse_args().config).read_text())
    iam, _rds, _sts = clients(config)
    policies = iam.get_paginator("list_policies").paginate(Scope="Local", PathPrefix=PRUNE_PATH).build_full_result()
    roles = []
    for role in sorted(PRUNE_PRINCIPALS):
        try:
            iam.get_role(RoleName=role)
            roles.append(role)
        except iam.exceptions.NoSuchEntityException:
            pass
    conn = pg_connect(config, "lab-postgres")
    with conn.cursor() as cur:
        cur.execute("SELECT rolname, COALESCE(shobj_description(oid, 'pg_authid'), '') FROM pg_roles "
                    "WHERE rolname LIKE 'rpt\\_%' ORDER BY rolname")
        postgres = dict(cur.fetchall())
    conn.close()
    conn = mysql_connect(config)
    with conn.cursor() as cur:
        cur.execute("SELECT User, COALESCE(JSON_VALUE(Priv, '$.dbauth_rds_iam'), '') FROM mysql.global_priv "
                    "WHERE User LIKE 'rpt\\_%' ORDER BY User")
        mysql = dict(cur.fetchall())
    conn.close()
    print(json.dumps({"policies": sorted(p["PolicyName"] for p in policies["Policies"]), "roles": roles,
                      "postgres": postgres, "mysql": mysql}))


if __name__ == "__main__":
    main()
