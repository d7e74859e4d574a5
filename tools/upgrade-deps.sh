#!/usr/bin/env bash
# Upgrade the locked versions deliberately: resolve the newest versions pyproject.toml allows in
# a scratch environment, write them to constraints.txt, then run the whole suite on them.
# Commit constraints.txt (with any fixes) only if the suite passes.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --upgrade pip setuptools
"$scratch/venv/bin/python" -m pip install --quiet -e '.[dev]'
{
    sed -n '/^#/p' constraints.txt
    "$scratch/venv/bin/python" -m pip freeze --all --exclude-editable | grep -v '^wheel==' \
        | sort -f
} > "$scratch/constraints.txt"
mv "$scratch/constraints.txt" constraints.txt
git --no-pager diff --stat -- constraints.txt
rm -rf .venv
bash tools/test.sh
