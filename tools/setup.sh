#!/usr/bin/env bash
# Install Lanner into .venv at the exact versions of constraints.txt.
#   bash tools/setup.sh          Lanner alone
#   bash tools/setup.sh --dev    Lanner, its tests' Python packages (pytest, ruff, pyspark,
#                                playwright) and the system packages the tests drive: Debian's
#                                Chromium (the HTML report is checked in a real browser) and a
#                                Java runtime (Spark)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [[ "${1:-}" == "--dev" ]]; then
    extras="[dev]"
    missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v java >/dev/null || missing+=(default-jre-headless)
    if ((${#missing[@]})); then
        if [[ $(id -u) -eq 0 ]]; then sudo=""
        elif command -v sudo >/dev/null; then sudo="sudo"
        else
            echo "the tests need the Debian packages ${missing[*]}: install them as root" \
                 "(apt-get install ${missing[*]}) and run this again" >&2
            exit 1
        fi
        $sudo apt-get update -q
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    fi
fi

[[ -x .venv/bin/python ]] || python3 -m venv .venv
export PIP_CONSTRAINT="$PWD/constraints.txt"  # also binds the build backend's own install
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".$extras"
