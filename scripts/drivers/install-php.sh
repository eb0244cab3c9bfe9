#!/usr/bin/env bash
# PHP mysqli (mysqlnd) for check-mysqli: Debian's php-cli and php-mysql
# (bookworm: PHP 8.2). Idempotent; quiet when already installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=""
for p in php-cli php-mysql; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "[install-php] apt-get install$missing"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
php -r 'exit(extension_loaded("mysqli") && function_exists("pcntl_fork") ? 0 : 1);' || {
  echo "[install-php] php has no mysqli or pcntl" >&2; exit 1; }
