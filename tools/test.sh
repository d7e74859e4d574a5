#!/usr/bin/env bash
# The one way to run Lanner's tests, on a fresh Debian machine as in CI: install everything the
# suite needs (tools/setup.sh --dev), then run pytest. Arguments go to pytest, for example
# `bash tools/test.sh tests/eql -x`. ../shared, the project's test data, must sit beside the root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --dev
exec .venv/bin/python -m pytest -q "$@"
