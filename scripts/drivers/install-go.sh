#!/usr/bin/env bash
# Go and go-sql-driver/mysql from Debian: golang-go (Go 1.19 on bookworm) and
# golang-github-go-sql-driver-mysql-dev (source under /usr/share/gocode, used in
# GOPATH mode by check-go; no module downloads). Idempotent and quiet when
# already installed; runs apt-get update only when a package cannot be found.
set -eu
PKGS="golang-go golang-github-go-sql-driver-mysql-dev"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null; }
echo "install-go.sh: apt-get install$missing"
apt_install $missing || { apt-get update -qq -o DPkg::Lock::Timeout=600 && apt_install $missing; }
