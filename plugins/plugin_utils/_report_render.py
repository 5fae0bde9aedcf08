# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The access report (what rds_iam_access_report returns) as a self-contained HTML page and as Markdown.

Internal use only: not part of the collection's public API, it may change in any release.

The HTML page loads nothing: no script, no stylesheet, image or font from elsewhere (its Content-Security-Policy
forbids every fetch), the principal-to-user graph is inline SVG. Every value is HTML-escaped.
"""

from __future__ import annotations

from html import escape

SEVERITIES = ("high", "medium", "low", "info")
_CSS = """
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #bbb;padding:0.25em 0.5em;text-align:left;vertical-align:top}
td.allowed{background:#d4edda}td.denied{background:#f5f5f5;color:#666}td.flagged{outline:3px solid #d9534f}
.sev-high{background:#f8d7da}.sev-medium{background:#fff3cd}.sev-low{background:#e2e3e5}.sev-info{background:#d1ecf1}
svg text{font-size:12px;font-family:sans-serif}
""".strip()


def _e(value):
    return escape("" if value is None else str(value), quote=True)


def _flagged_pairs(findings):
    """(database, db_user) pairs named by a finding, for colouring the table cells."""
    pairs = set()
    for finding in findings:
        objects = finding.get("objects") or {}
        if objects.get("database") and objects.get("db_user"):
            pairs.add((objects["database"], objects["db_user"]))
    return pairs


def label(entry):
    """A database (a report's databases entry or matrix row) as shown: a read replica or global secondary with its
    Region, which tells it from a database of the same identifier in the call's Region."""
    if entry.get("member_of"):
        return "%s (%s)" % (entry["database"] if "database" in entry else entry["id"], entry.get("region"))
    return entry["database"] if "database" in entry else entry["id"]


def _principals(matrix):
    seen = {}
    for row in matrix:
        seen.setdefault(row["principal_arn"], row["principal"])
    return sorted(seen.items())


def _database_table(db, rows, principals, flagged):
    users = sorted(set(r["db_user"] for r in rows))
    lines = ['<h3 id="db-%s">%s</h3>' % (_e(label(db).replace(" ", "")), _e(label(db)))]
    if db.get("member_of"):
        lines.append("<p>%s of %s: its users are the source's</p>" % (_e(db.get("member_role") or "member"), _e(db["member_of"])))
    facts = "%s %s, resource id %s, IAM authentication %s" % (
        _e(db.get("kind")), _e(db.get("engine")), _e(db.get("resource_id") or "unknown"),
        "on" if db.get("iam_enabled") else "off")
    if db.get("catalog_error"):
        facts += "; " + _e(db["catalog_error"])
    lines.append("<p>%s</p>" % facts)
    if not users:
        lines.append("<p>No IAM users.</p>")
        return lines
    cells = dict(((r["principal_arn"], r["db_user"]), r) for r in rows)
    lines.append('<table class="matrix" data-database="%s"><thead><tr><th>user \\ principal</th>%s</tr></thead><tbody>'
                 % (_e(db["id"]), "".join('<th title="%s">%s</th>' % (_e(a), _e(n)) for a, n in principals)))
    for user in users:
        tds = []
        for arn, _name in principals:
            row = cells.get((arn, user))
            if row is None:
                tds.append("<td></td>")
                continue
            classes = "allowed" if row["allowed"] else "denied"
            if (db["id"], user) in flagged:
                classes += " flagged"
            tds.append('<td class="%s pair" data-principal="%s" data-user="%s" title="%s">%s <small>(%s)</small></td>' % (
                classes, _e(arn), _e(user), _e(row["reason"]), "allowed" if row["allowed"] else "denied",
                _e(row["decided_by"])))
        lines.append("<tr><th>%s</th>%s</tr>" % (_e(user), "".join(tds)))
    lines.append("</tbody></table>")
    return lines


def graph_svg(matrix):
    """Principals (left) joined by a line to each database user (right) they may log in as."""
    allowed = [r for r in matrix if r["allowed"]]
    principals = sorted(set(r["principal"] for r in matrix))
    targets = sorted(set("%s / %s" % (label(r), r["db_user"]) for r in matrix))
    height = 30 + 22 * max(len(principals), len(targets), 1)
    left = dict((p, 20 + 22 * i) for i, p in enumerate(principals))
    right = dict((t, 20 + 22 * i) for i, t in enumerate(targets))
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="900" height="%d" role="img" aria-label="who can log in as whom">'
             % height]
    for row in allowed:
        parts.append('<line x1="250" y1="%d" x2="600" y2="%d" stroke="#2e7d32" stroke-width="1.5"/>'
                     % (left[row["principal"]] - 4, right["%s / %s" % (label(row), row["db_user"])] - 4))
    for name, y in left.items():
        parts.append('<text x="245" y="%d" text-anchor="end">%s</text>' % (y, _e(name)))
    for name, y in right.items():
        parts.append('<text x="605" y="%d">%s</text>' % (y, _e(name)))
    parts.append("</svg>")
    return "".join(parts)


def report_html(report, title="IAM database access report"):
    """The report as one HTML page that fetches nothing."""
    matrix = report.get("matrix") or []
    findings = report.get("findings") or []
    summary = report.get("summary") or {}
    flagged = _flagged_pairs(findings)
    principals = _principals(matrix)
    counts = summary.get("findings") or {}
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        "<title>%s</title><style>%s</style></head><body>" % (_e(title), _CSS),
        "<h1>%s</h1>" % _e(title),
        '<p id="summary">%s database(s), %s principal(s), %s pair(s), %s allowed; findings: %s</p>' % (
            _e(summary.get("databases", 0)), _e(summary.get("principals", 0)), _e(len(matrix)),
            _e(sum(1 for r in matrix if r["allowed"])),
            ", ".join("%s %s" % (_e(counts[s]), s) for s in SEVERITIES if counts.get(s)) or "none"),
        "<h2>Findings</h2>",
    ]
    if findings:
        out.append('<table id="findings"><thead><tr><th>severity</th><th>code</th><th>message</th></tr></thead><tbody>')
        for f in findings:
            out.append('<tr class="sev-%s"><td>%s</td><td><code>%s</code></td><td>%s</td></tr>' % (
                _e(f["severity"]), _e(f["severity"]), _e(f["code"]), _e(f["message"])))
        out.append("</tbody></table>")
    else:
        out.append("<p>No findings.</p>")
    out.append("<h2>Who can log in as whom</h2>")
    out.append(graph_svg(matrix))
    out.append("<h2>Databases</h2>")
    for db in report.get("databases") or []:
        rows = [r for r in matrix if label(r) == label(db)]
        out.extend(_database_table(db, rows, principals, flagged))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _md(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def report_markdown(report, title="IAM database access report"):
    """A summary for a pull request or a job log: counts, findings, and the allowed pairs per database."""
    matrix = report.get("matrix") or []
    findings = report.get("findings") or []
    summary = report.get("summary") or {}
    counts = summary.get("findings") or {}
    lines = ["# %s" % title, "",
             "%d database(s), %d principal(s), %d pair(s) of which %d allowed. Findings: %s." % (
                 summary.get("databases", 0), summary.get("principals", 0), len(matrix),
                 sum(1 for r in matrix if r["allowed"]),
                 ", ".join("%d %s" % (counts[s], s) for s in SEVERITIES if counts.get(s)) or "none"),
             ""]
    if findings:
        lines += ["## Findings", "", "| severity | code | message |", "|---|---|---|"]
        lines += ["| %s | `%s` | %s |" % (_md(f["severity"]), _md(f["code"]), _md(f["message"])) for f in findings]
        lines.append("")
    lines += ["## Allowed logins", "", "| database | user | principals |", "|---|---|---|"]
    pairs = {}
    for row in matrix:
        if row["allowed"]:
            pairs.setdefault((label(row), row["db_user"]), []).append(row["principal"])
    for (database, user), names in sorted(pairs.items()):
        lines.append("| %s | %s | %s |" % (_md(database), _md(user), _md(", ".join(sorted(names)))))
    if not pairs:
        lines.append("| - | - | none |")
    return "\n".join(lines) + "\n"
