"""Print the Django ports' pass rate per module and their xfail reasons with counts, as Markdown.

Run ``python tests/django/tally.py`` after removing markers of features that landed, and
paste the output into this folder's README. It reads the test files, not a test run:
every test without an ``xfail`` marker passes (the suite is green and the markers strict).
"""

import re
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).parent
MODULES = [
    "lookup",
    "basic",
    "queries",
    "get_or_create",
    "update",
    "delete",
    "bulk_create",
    "aggregation",
    "expressions",
    "ordering",
]
#: Theme of each reason, by the first pattern that matches it (the to-do list, grouped).
THEMES: list[tuple[str, str]] = [
    (
        "Silent wrong answers",
        r"always true|keeps rows|deduplicated|shares one join|compare with a literal"
        r"|drops NULL|sliced update|over a relation|ignores distinct|loses foreign keys"
        r"|keep annotations|reuse the filter's join|counts omit|integer division|ignores the related",
    ),
    ("Relation names", r"relation names|QuerySet as lookup value"),
    (
        "Writes",
        r"integer keys|delete\(\) does not return|bulk_create|defaults|RESTRICT"
        r"|instance \.(save|delete|refresh)|field value",
    ),
    ("Aggregates", r"aggregate|Count\('\*'\)|HAVING"),
    ("Expressions", r"annotate|alias|^F |F\(\)|F bitwise|expression |expressions refused"),
    ("Lookups", r"JSONB|date transforms|regex"),
    ("QuerySet and model API", r"."),
]
TEST = re.compile(r"^def test_\w+", re.MULTILINE)
XFAIL = re.compile(r'^@pytest\.mark\.xfail\(strict=True, reason="([^"]+)"\)\n(?=def test_)', re.MULTILINE)


def main() -> None:
    """Print both tables."""
    reasons: Counter[str] = Counter()
    where: defaultdict[str, set[str]] = defaultdict(set)
    print("| module | passing / ported | rate |\n| --- | --- | --- |")
    total_pass = total = 0
    for module in MODULES:
        source = (HERE / f"test_{module}.py").read_text()
        tests = len(TEST.findall(source))
        failing = XFAIL.findall(source)
        for reason in failing:
            reasons[reason] += 1
            where[reason].add(module)
        passing = tests - len(failing)
        total_pass, total = total_pass + passing, total + tests
        print(f"| {module} | {passing} / {tests} | {100 * passing / tests:.0f} % |")
    print(f"| **all** | **{total_pass} / {total}** | **{100 * total_pass / total:.0f} %** |\n")
    themes: Counter[str] = Counter()
    for reason, count in reasons.items():
        themes[next(name for name, pattern in THEMES if re.search(pattern, reason))] += count
    print("| theme | tests |\n| --- | --- |")
    for name, _ in THEMES:
        print(f"| {name} | {themes[name]} |")
    print()
    print("| tests | what is missing or wrong | modules |\n| --- | --- | --- |")
    for reason, count in reasons.most_common():
        print(f"| {count} | {reason.replace('|', chr(92) + '|')} | {', '.join(sorted(where[reason]))} |")


if __name__ == "__main__":
    main()
