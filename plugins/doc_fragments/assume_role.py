# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Assume-role options of the modules that call AWS or sign tokens (rds_iam_enable, rds_iam_db_user,
    # rds_iam_token) and of the rds_iam_token lookup. Implemented in module_utils/_aws_session.py (fallbacks
    # and the STS call through amazon.aws' client). The environment variables are the ones the
    # collection's AWX / Automation Controller credential type injects (docs/awx.md).

    MODULES = r"""
options:
  assume_role_arn:
    description:
      - ARN of an IAM role to assume with AWS STS first; the module's AWS calls and IAM tokens then use
        that role's temporary credentials. The AWS options (or the default credential chain) give the
        credentials that assume it.
      - STS is called at O(endpoint_url) when that is set.
      - When not set, the environment variable E(DBAUTH_RDS_IAM_ASSUME_ROLE_ARN) of the host that runs the
        module is used (the collection's AWX credential type sets it). An empty value means no role.
    type: str
  role_session_name:
    description:
      - Session name used with O(assume_role_arn); it shows in AWS CloudTrail.
      - Only valid together with O(assume_role_arn); when not set, the environment variable
        E(DBAUTH_RDS_IAM_ROLE_SESSION_NAME) is used, then V(dbauth-rds-iam-token).
    type: str
  external_id:
    description:
      - External ID that the trust policy of the O(assume_role_arn) role requires.
      - Only valid together with O(assume_role_arn); when not set, the environment variable
        E(DBAUTH_RDS_IAM_EXTERNAL_ID) is used.
    type: str
"""

    PLUGINS = r"""
options:
  assume_role_arn:
    description:
      - ARN of an IAM role to assume with AWS STS first; tokens are then signed with that role's temporary
        credentials. The AWS options (or the default credential chain of the controller) give the
        credentials that assume it.
      - STS is called at O(endpoint_url) when that is set.
      - An empty value means no role.
    type: str
    env:
      - name: DBAUTH_RDS_IAM_ASSUME_ROLE_ARN
  role_session_name:
    description:
      - Session name used with O(assume_role_arn); it shows in AWS CloudTrail.
      - Only valid together with O(assume_role_arn); when not set, V(dbauth-rds-iam-token) is used.
    type: str
    env:
      - name: DBAUTH_RDS_IAM_ROLE_SESSION_NAME
  external_id:
    description:
      - External ID that the trust policy of the O(assume_role_arn) role requires.
      - Only valid together with O(assume_role_arn).
    type: str
    env:
      - name: DBAUTH_RDS_IAM_EXTERNAL_ID
"""
