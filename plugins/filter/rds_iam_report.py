# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The filters of this file are documented in the .yml files of the same names beside it.

from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._report_render import report_html
from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._report_render import report_markdown


class FilterModule:
    def filters(self):
        return {
            "rds_iam_report_html": report_html,
            "rds_iam_report_markdown": report_markdown,
        }
