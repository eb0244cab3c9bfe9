#!/usr/bin/env bash
# The pytest kit's tests and the real-client tests of the JSON rules, the
# journal and the admin port (python/; see python/README.md).
#
# usage: scripts/pytest.sh [PYTEST ARGS...]     (UNDERSTUDY_BIN=the server binary)
#
# Installs what the tests need (scripts/drivers/install-pytest.sh: the
# package from ./python, pytest, SQLAlchemy, PyMySQL, mysql-connector-python
# in the virtualenv DRIVERS_VENV, default ~/.cache/mysql-compat-venv), then
# runs `python -m pytest -q python/` there; each test starts its own servers on
# ports the kernel picks. The run is bounded by PYTEST_TIMEOUT seconds
# (default 300, a liveness limit: it takes well under a minute). Exits with
# pytest's status (2 on a usage error).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV=${DRIVERS_VENV:-$HOME/.cache/mysql-compat-venv}
BIN=${UNDERSTUDY_BIN:-}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "usage: UNDERSTUDY_BIN=BIN scripts/pytest.sh [PYTEST ARGS...]; not an executable: '${BIN}'" >&2
  exit 2
fi
UNDERSTUDY_BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
export UNDERSTUDY_BIN
bash "$ROOT/scripts/drivers/install-pytest.sh"
cd "$ROOT"
exec timeout -k 10 "${PYTEST_TIMEOUT:-300}" "$VENV/bin/python" -m pytest -q -p no:cacheprovider python/ "$@"
