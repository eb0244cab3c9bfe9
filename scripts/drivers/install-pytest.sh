#!/usr/bin/env bash
# The pytest kit (python/, the package understudy-pytest) and what its tests
# use, for scripts/pytest.sh: in the virtualenv DRIVERS_VENV (default
# ~/.cache/mysql-compat-venv) pytest and SQLAlchemy (pinned here), PyMySQL and
# mysql-connector-python (install-python.sh, run first), and the package
# itself from ./python, installed again whenever its sources change; from
# Debian, mariadb-client (the mariadb CLI and mariadb-slap the tests run) and
# sysbench (install-sysbench.sh).
# Idempotent; quiet when everything is there.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV=${DRIVERS_VENV:-$HOME/.cache/mysql-compat-venv}
PYTEST_VERSION=9.2.0
SQLALCHEMY_VERSION=2.1.9
# PyMySQL's RSA key exchange (caching_sha2_password full authentication)
CRYPTOGRAPHY_VERSION=50.0.2
export DEBIAN_FRONTEND=noninteractive

if ! dpkg -s mariadb-client >/dev/null 2>&1; then
  echo "[install-pytest] apt-get install mariadb-client"
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 mariadb-client >/dev/null 2>&1 ||
    { apt-get update -qq -o DPkg::Lock::Timeout=600 &&
      apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 mariadb-client >/dev/null; }
fi
bash "$HERE/install-python.sh"
bash "$HERE/install-sysbench.sh"

pip_install() { "$VENV/bin/pip" install -q --disable-pip-version-check "$@"; }
if ! "$VENV/bin/python" - "$PYTEST_VERSION" "$SQLALCHEMY_VERSION" "$CRYPTOGRAPHY_VERSION" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
sys.exit(0 if (version("pytest"), version("SQLAlchemy"), version("cryptography")) == tuple(sys.argv[1:4]) else 1)
PY
then
  echo "[install-pytest] pip install pytest==$PYTEST_VERSION SQLAlchemy==$SQLALCHEMY_VERSION cryptography==$CRYPTOGRAPHY_VERSION into $VENV"
  pip_install "pytest==$PYTEST_VERSION" "SQLAlchemy==$SQLALCHEMY_VERSION" "cryptography==$CRYPTOGRAPHY_VERSION"
fi

# the kit: installed as a user would (pip install ./python), again when a source file changed
sum=$(cd "$ROOT/python" && cat pyproject.toml README.md understudy_pytest/*.py | sha256sum | cut -d' ' -f1)
stamp="$VENV/.understudy-pytest.sha256"
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ] || ! "$VENV/bin/python" -c 'import understudy_pytest' 2>/dev/null; then
  echo "[install-pytest] pip install ./python (understudy-pytest) into $VENV"
  pip_install --force-reinstall --no-deps "$ROOT/python"
  echo "$sum" >"$stamp"
fi
