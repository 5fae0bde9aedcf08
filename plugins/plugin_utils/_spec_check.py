# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a value against an Ansible argument spec, collecting every problem with the path of the entry.

Internal use only: not part of the collection's public API, it may change in any release.

Ansible's own ArgumentSpecValidator stops at the first list entry's problems and names neither the entry nor a
close match for a misspelt key; the data model needs both (``rds_iam_databases[2] (db-1) users[0] (app):
unknown key 'principal', did you mean 'principals'?``), so the plan checks with this walker instead. Types
are converted the way Ansible converts module arguments (``'yes'`` is a bool, ``'5432'`` an int).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from ansible.module_utils.parsing.convert_bool import boolean


def closest(name, known):
    """' (did you mean X?)' for the closest known name, or ''."""
    match = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return " (did you mean '%s'?)" % match[0] if match else ""


def _label(entry, label_keys):
    if isinstance(entry, Mapping):
        for key in label_keys:
            value = entry.get(key)
            if isinstance(value, str) and value:
                return " (%s)" % value
    return ""


def _scalar(value, kind, where, problems):
    if kind == "str":
        if isinstance(value, str):
            return value
        problems.append("%s must be a string, not %s %r" % (where, type(value).__name__, value))
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        problems.append("%s must be a whole number, not %r" % (where, value))
    elif kind == "bool":
        try:
            return boolean(value, strict=True)
        except TypeError:
            problems.append("%s must be true or false, not %r" % (where, value))
    else:  # raw
        return value
    return None


def check_value(value, spec, where, problems, label_keys=("name",)):
    """The converted value of one option, or None (problems get what is wrong)."""
    kind = spec.get("type", "raw")
    if kind == "list":
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
            problems.append("%s must be a list, not %s" % (where, type(value).__name__))
            return None
        result = []
        for index, element in enumerate(value):
            element_where = "%s[%d]%s" % (where, index, _label(element, label_keys))
            if spec.get("options") is not None:
                result.append(check_options(element, spec["options"], element_where, problems, label_keys))
            else:
                result.append(_scalar(element, spec.get("elements", "raw"), element_where, problems))
        return result
    if kind == "dict":
        if not isinstance(value, Mapping):
            problems.append("%s must be a dict, not %s" % (where, type(value).__name__))
            return None
        if spec.get("options") is not None:
            return check_options(value, spec["options"], where, problems, label_keys)
        return dict(value)
    return _scalar(value, kind, where, problems)


def check_options(entry, options, where, problems, label_keys=("name",)):
    """A dict with every known key (defaults filled in, absent ones None) or None when entry is no dict."""
    if not isinstance(entry, Mapping):
        problems.append("%s must be a dict, not %s" % (where, type(entry).__name__))
        return None
    for key in entry:
        if key not in options:
            problems.append("%s: unknown key '%s'%s; known keys: %s" % (where, key, closest(key, options), ", ".join(sorted(options))))
    result = {}
    for key, spec in options.items():
        value = entry.get(key)
        if value is None:
            if spec.get("required"):
                problems.append("%s: %s is required" % (where, key))
            default = spec.get("default")
            result[key] = list(default) if isinstance(default, list) else default
            continue
        converted = check_value(value, spec, "%s: %s" % (where, key), problems, label_keys)
        if converted is not None and spec.get("choices") and converted not in spec["choices"]:
            choices = [str(c) for c in spec["choices"]]
            problems.append("%s: %s is %r; give %s %s" % (where, key, converted, key, " or ".join([", ".join(choices[:-1]), choices[-1]])
                                                          if len(choices) > 1 else choices[0]))
        result[key] = converted
    return result
