#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open the HTML report in a real browser (Debian's chromium, driven headless by Selenium through Debian's
chromedriver; nothing downloads a browser) and check it: no console message of level WARNING or worse (a
blocked fetch is one), a table cell for every pair of the JSON report with its allowed/denied, every finding
shown, the inline SVG graph drawn. A screenshot is saved. Without chromium or chromium-driver it fails and says
which Debian packages to install.

Usage: browser_check.py --html access_report.html --json access_report.json --screenshot report.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def driver():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        sys.exit("browser_check: %s missing: install the Debian packages chromium and chromium-driver (as root "
                 "scripts/bootstrap.sh does)" % " and ".join(missing))
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        sys.exit("browser_check: the Python package selenium is missing (tests/requirements-dev.txt; make bootstrap)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--html", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--screenshot", required=True)
    args = parser.parse_args()
    report = json.loads(Path(args.json).read_text())
    problems = []
    browser = driver()
    try:
        browser.get(Path(args.html).resolve().as_uri())
        title = browser.title
        cells = browser.execute_script(
            "return Array.from(document.querySelectorAll('td.pair')).map(td => [td.closest('table').dataset.database,"
            " td.dataset.principal, td.dataset.user, td.classList.contains('allowed')]);")
        findings = browser.execute_script("return document.querySelectorAll('#findings tbody tr').length;")
        svg_lines = browser.execute_script("return document.querySelectorAll('svg line').length;")
        Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(args.screenshot)
        console = [entry for entry in browser.get_log("browser") if entry.get("level") in ("WARNING", "SEVERE")]
    finally:
        browser.quit()
    shown = dict(((d, p, u), allowed) for d, p, u, allowed in cells)
    for row in report["matrix"]:
        key = (row["database"], row["principal_arn"], row["db_user"])
        if key not in shown:
            problems.append("pair not shown: %s" % (key,))
        elif shown[key] != row["allowed"]:
            problems.append("pair %s shown as %s" % (key, "allowed" if shown[key] else "denied"))
    if len(cells) != len(report["matrix"]):
        problems.append("%d pairs shown, %d in the report" % (len(cells), len(report["matrix"])))
    if findings != len(report["findings"]):
        problems.append("%d findings shown, %d in the report" % (findings, len(report["findings"])))
    if svg_lines != sum(1 for r in report["matrix"] if r["allowed"]):
        problems.append("the graph has %d lines for %d allowed pairs" % (svg_lines, sum(1 for r in report["matrix"] if r["allowed"])))
    problems.extend("console %s: %s" % (e["level"], e["message"]) for e in console)
    print("%s: %d pairs, %d findings, %d graph lines shown in chromium; screenshot %s" % (
        title, len(cells), findings, svg_lines, args.screenshot))
    for line in problems:
        print(line)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
