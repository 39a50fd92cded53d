#!/usr/bin/env python3
"""Checks that the README's code examples are the files that `make test` compiles.

A fenced block in README.md preceded by a line `<!-- example: PATH -->` must equal the
file PATH (relative to the repository) line for line, so the example a reader copies is
one that builds and passes: Examples/ packages are built and tested by `make examples`.
Exits 1 naming each block that drifted, 2 when no marked block is found.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
readme = (root / "README.md").read_text()
blocks = re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", readme, flags=re.S)
if not blocks:
    print("check_readme_examples: no `<!-- example: PATH -->` block in README.md")
    sys.exit(2)
failed = False
for path, text in blocks:
    source = (root / path).read_text()
    if text != source:
        print(f"check_readme_examples: README.md's example from {path} differs from the file; copy the file into the README")
        failed = True
    else:
        print(f"check_readme_examples: {path}: the README shows it as it is")
sys.exit(1 if failed else 0)
