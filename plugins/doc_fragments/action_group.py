# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Every module of the collection belongs to the action group rds_iam (meta/runtime.yml), so that
    # one module_defaults block gives the AWS options to a whole play.
    DOCUMENTATION = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/dbauth.rds_iam.rds_iam) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - dbauth.rds_iam.rds_iam
"""
