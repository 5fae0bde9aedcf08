# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The access report rendered: HTML that fetches nothing and escapes every value, a cell per pair, the graph's
lines for the allowed pairs; Markdown with counts, findings and allowed logins."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ansible_collections.dbauth.rds_iam.plugins.plugin_utils import _report_render

ROLE = "arn:aws:iam::111122223333:role/"


def row(principal, database, user, allowed, reason="r"):
    return {"principal_arn": ROLE + principal, "principal": principal, "principal_type": "role", "database": database,
            "db_user": user, "allowed": allowed, "decision": "allow" if allowed else "implicit_deny", "reason": reason,
            "decided_by": "local"}


REPORT = {
    "matrix": [row("app", "pg", "app", True), row("report", "pg", "app", False),
               row("app", "my", "<script>x</script>", False, reason='"quoted" & <b>'), row("report", "my", "<script>x</script>", True)],
    "findings": [{"code": "iam_auth_off", "severity": "high", "message": "pg is off", "objects": {"database": "pg"}},
                 {"code": "unmodelled_user", "severity": "low", "message": "my: <script>x</script> | pipe", "objects":
                  {"database": "my", "db_user": "<script>x</script>"}}],
    "databases": [{"id": "pg", "kind": "instance", "engine": "postgres", "resource_id": "db-A", "iam_enabled": True},
                  {"id": "my", "kind": "cluster", "engine": "mysql", "resource_id": "cluster-B", "iam_enabled": False,
                   "catalog_error": None}],
    "summary": {"databases": 2, "principals": 2, "pairs": 4, "allowed": 2, "findings": {"high": 1, "medium": 0, "low": 1, "info": 0}},
}


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.pairs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "td" and "pair" in (attrs.get("class") or ""):
            self.pairs.append((attrs["data-principal"], attrs["data-user"], "allowed" in attrs["class"].split()))


def test_html_is_self_contained_and_escaped():
    page = _report_render.report_html(REPORT)
    parser = Collect()
    parser.feed(page)
    tags = [t for t, _a in parser.tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert not re.search(r"(src|href)=", page)
    assert "default-src 'none'" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "&quot;quoted&quot; &amp; &lt;b&gt;" in page
    assert sorted(parser.pairs) == sorted((r["principal_arn"], r["db_user"], r["allowed"]) for r in REPORT["matrix"])
    assert page.count("<line ") == 2
    assert "1 high, 1 low" in page
    assert page.index('class="sev-high"') < page.index('class="sev-low"')


def test_flagged_cells_are_marked():
    page = _report_render.report_html(REPORT)
    flagged = re.findall(r'<td class="([^"]*)" data-principal="[^"]*" data-user="&lt;script', page)
    assert flagged and all("flagged" in c for c in flagged)


def test_markdown_summary():
    text = _report_render.report_markdown(REPORT)
    lines = text.splitlines()
    assert lines[0] == "# IAM database access report"
    assert "2 database(s), 2 principal(s), 4 pair(s) of which 2 allowed. Findings: 1 high, 1 low." in text
    assert "| low | `unmodelled_user` | my: <script>x</script> \\| pipe |" in lines
    assert "| pg | app | app |" in lines and "| my | <script>x</script> | report |" in lines


def test_an_empty_report_renders():
    empty = {"matrix": [], "findings": [], "databases": [], "summary": {}}
    assert "No findings." in _report_render.report_html(empty)
    assert "| - | - | none |" in _report_render.report_markdown(empty)


def test_a_cross_region_replica_of_the_same_name_has_its_own_table_and_lines():
    """A read replica named like its source, in another Region (docs/topologies.md): shown with its Region, its pairs
    apart from the source's."""
    west = dict(row("app", "pg", "app", False), region="us-west-2", member_of="pg")
    report = dict(REPORT, matrix=REPORT["matrix"] + [west], databases=REPORT["databases"] + [
        {"id": "pg", "kind": "instance", "engine": "postgres", "resource_id": "db-W", "iam_enabled": True,
         "region": "us-west-2", "member_of": "pg", "member_role": "replica"}])
    page = _report_render.report_html(report)
    assert '<h3 id="db-pg(us-west-2)">pg (us-west-2)</h3>' in page and "replica of pg: its users are the source's" in page
    tables = page.split('<table class="matrix"')
    assert [t.count(' pair" data-principal') for t in tables[1:]] == [2, 2, 1]
    text = _report_render.report_markdown(dict(report, matrix=report["matrix"] + [dict(west, allowed=True)]))
    assert "| pg | app | app |" in text.splitlines() and "| pg (us-west-2) | app | app |" in text.splitlines()
