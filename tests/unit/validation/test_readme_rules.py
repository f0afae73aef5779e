"""The README's rule table names every rule id validation and argument checks report, and only those."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_batchstream.arguments import ARGUMENT_RULES
from airflow_batchstream.validation import RULES


def test_readme_lists_every_rule_id():
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    section = readme.split("## Validation and preflight", 1)[1].split("\n## ", 1)[0]
    table_rules = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE))
    assert table_rules == set(RULES) | set(ARGUMENT_RULES)
