#!/usr/bin/env bash
# sysbench from Debian (1.0.20 on bookworm, with its oltp_*.lua scripts under
# /usr/share/sysbench and libmariadb for its MySQL driver), for check-sysbench
# and scripts/drivers/sysbench/bench.sh. Idempotent and quiet when already
# installed; runs apt-get update only when a package cannot be found.
set -eu
PKGS="sysbench"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null; }
echo "install-sysbench.sh: apt-get install$missing"
apt_install $missing || { apt-get update -qq -o DPkg::Lock::Timeout=600 && apt_install $missing; }
