#!/usr/bin/env bash
# Python drivers for check-pymysql, check-connector and check-mysqlclient:
#   PyMySQL and mysql-connector-python from PyPI (pure Python wheels) in the
#   virtualenv DRIVERS_VENV (default ~/.cache/mysql-compat-venv, the one
#   ../shared/compat/setup.sh makes: same versions as its requirements.txt);
#   mysqlclient (MySQLdb) as Debian's python3-mysqldb, for /usr/bin/python3
#   (a C extension on libmariadb3: nothing to compile).
# Idempotent; quiet when already installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
VENV=${DRIVERS_VENV:-$HOME/.cache/mysql-compat-venv}
missing=""
for p in python3-mysqldb python3-venv; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "[install-python] apt-get install$missing"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ -x "$VENV/bin/python" ] || { echo "[install-python] python3 -m venv $VENV"; python3 -m venv "$VENV"; }
if ! "$VENV/bin/python" -c 'import pymysql, mysql.connector' 2>/dev/null; then
  echo "[install-python] pip install PyMySQL mysql-connector-python into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check PyMySQL==1.2.4 mysql-connector-python==26.10.0
fi
/usr/bin/python3 -c 'import MySQLdb'
