#!/usr/bin/env bash
# make-tls-certs.sh DIR [rsa|ec]: a CA and a server certificate it signs, made
# afresh by openssl (valid 2 days: a run's certificates, not a deployment's):
# DIR/ca.pem, DIR/server.pem, DIR/server.key. The server key is RSA 2048 (the
# default: what MySQL's auto_generate_certs makes) or ECDSA P-256 (`ec`: what
# understudy's --ssl generates). The server certificate names localhost (CN
# and SAN DNS) and 127.0.0.1 (SAN IP), so drivers that check the host name
# against either pass. Used by the driver matrix's tls mode and by make bench
# (one certificate for understudy and MariaDB alike, so that their TLS rows
# pay for the same key).
set -eu
d=${1:?usage: make-tls-certs.sh DIR [rsa|ec]}
case ${2:-rsa} in
  rsa) key=(-newkey rsa:2048) ;;
  ec) key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
  *) echo "make-tls-certs.sh: key type '$2': rsa or ec" >&2; exit 2 ;;
esac
rm -rf "$d" && mkdir -p "$d"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=understudy test CA" \
  -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
openssl req "${key[@]}" -nodes -subj "/CN=localhost" \
  -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
  -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
