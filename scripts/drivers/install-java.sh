#!/usr/bin/env bash
# Java and MariaDB Connector/J from Debian: default-jdk-headless (OpenJDK 17 on
# bookworm: javac and java for check-jdbc) and libmariadb-java (Connector/J 2.7,
# /usr/share/java/mariadb-java-client.jar). Idempotent and quiet when already
# installed; runs apt-get update only when a package cannot be found.
set -eu
PKGS="default-jdk-headless libmariadb-java"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null; }
echo "install-java.sh: apt-get install$missing"
apt_install $missing || { apt-get update -qq -o DPkg::Lock::Timeout=600 && apt_install $missing; }
