#!/usr/bin/env bash
# Perl DBI + DBD::MariaDB for check-dbd-mariadb: Debian's libdbd-mariadb-perl
# (bookworm: 1.22, on libmariadb3). Idempotent; quiet when already installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=""
for p in libdbi-perl libdbd-mariadb-perl; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "[install-perl] apt-get install$missing"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
perl -MDBD::MariaDB -e 1
