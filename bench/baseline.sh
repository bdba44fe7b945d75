#!/usr/bin/env bash
# The baseline for bench/bluegreen.ts: a blue-green deploy as a user's CI shell pipeline does
# it, with the same steps (and the same parallelism) as cutover's blue-green workflow:
#   1. read the upstream file on every host over ssh (in parallel) -> live colour, idle colour
#   2. on every host in parallel, one ssh per step: stop the idle slot, start the new version
#      with the same bin/slot script, poll its health endpoint with curl on the host
#   3. host after host: write the upstream file (temp + mv), nginx -t, reload
#   4. curl through every nginx until 5 answers in a row carry the new version
#
#   baseline.sh <version>
# Environment (written by bench/bluegreen.ts):
#   HOSTS_FILE      lines "name address ssh_port user private_key root"
#   KNOWN_HOSTS     known_hosts file with every host's key (StrictHostKeyChecking=yes)
#   BLUE_PORT GREEN_PORT NGINX_PORT NGINX_BIN UPSTREAM_NAME
#   HEALTH_ATTEMPTS HEALTH_INTERVAL (seconds) VERIFY_REQUESTS VERIFY_TIMEOUT (seconds)
# Prints "@ <mark> <epoch ms>" lines that the benchmark reads; exit 0 when the new version
# serves all traffic.
set -euo pipefail

version="$1"
case "$version" in ''|*[!A-Za-z0-9._-]*) echo "bad version" >&2; exit 2 ;; esac
: "${HOSTS_FILE:?}" "${KNOWN_HOSTS:?}" "${BLUE_PORT:?}" "${GREEN_PORT:?}" "${NGINX_PORT:?}" "${NGINX_BIN:?}" "${UPSTREAM_NAME:?}"
HEALTH_ATTEMPTS="${HEALTH_ATTEMPTS:-20}"
HEALTH_INTERVAL="${HEALTH_INTERVAL:-0.25}"
VERIFY_REQUESTS="${VERIFY_REQUESTS:-5}"
VERIFY_TIMEOUT="${VERIFY_TIMEOUT:-30}"

mark() { printf '@ %s %s\n' "$1" "$(date +%s%3N)"; }
tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT

names=(); addrs=(); ports=(); users=(); keys=(); roots=()
while read -r n a p u k r; do
  [ -n "${n:-}" ] || continue
  names+=("$n"); addrs+=("$a"); ports+=("$p"); users+=("$u"); keys+=("$k"); roots+=("$r")
done < "$HOSTS_FILE"

# rsh <host index> <command>: run a command on the host; stdin is passed through.
rsh() {
  local i="$1"; shift
  ssh -F /dev/null -i "${keys[$i]}" -p "${ports[$i]}" \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o BatchMode=yes \
    -o ConnectTimeout=10 -o LogLevel=ERROR "${users[$i]}@${addrs[$i]}" "$@"
}

mark start

# 1. which colour is live? (all hosts must agree)
for i in "${!names[@]}"; do
  rsh "$i" "f=${roots[$i]}/nginx/upstream.conf; if [ -f \"\$f\" ]; then cat \"\$f\"; fi" > "$tmp/upstream.$i" &
done
wait
live=""
for i in "${!names[@]}"; do
  c="$(sed -n 's/^# managed by cutover: color=\([a-z]*\) .*/\1/p' "$tmp/upstream.$i")"
  if [ -n "$live" ] && [ "$c" != "$live" ]; then echo "hosts disagree on the live colour" >&2; exit 1; fi
  live="$c"
done
if [ "$live" = blue ]; then idle=green; port="$GREEN_PORT"; else idle=blue; port="$BLUE_PORT"; fi
mark read

# 2. prepare the idle slot on every host in parallel: stop, start, health-check
prepare() {
  local i="$1" slot="${roots[$1]}/bin/slot"
  rsh "$i" "$slot stop $idle" > /dev/null
  rsh "$i" "$slot start $idle $port $version" > /dev/null
  rsh "$i" "for n in \$(seq 1 $HEALTH_ATTEMPTS); do
      code=\$(curl -sS -o /dev/null --max-time 2 -w '%{http_code}' http://${addrs[$i]}:$port/health 2>/dev/null || true)
      [ \"\$code\" = 200 ] && exit 0
      sleep $HEALTH_INTERVAL
    done
    echo '${names[$i]}: $idle ($version) failed its health check' >&2; exit 1"
}
pids=()
for i in "${!names[@]}"; do prepare "$i" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
mark healthy

# 3. switch nginx, host after host
for i in "${!names[@]}"; do
  [ "$i" = 0 ] && mark switch-start
  nginx="$NGINX_BIN -p ${roots[$i]}/nginx/ -c nginx.conf"
  printf '# managed by cutover: color=%s version=%s\nupstream %s {\n    server %s:%s;\n}\n' \
    "$idle" "$version" "$UPSTREAM_NAME" "${addrs[$i]}" "$port" |
    rsh "$i" "set -eu; f=${roots[$i]}/nginx/upstream.conf; cp -p \"\$f\" \"\$f.prev\" 2>/dev/null || true
      cat > \"\$f.new\"; mv -f \"\$f.new\" \"\$f\"
      if ! $nginx -t -q; then mv -f \"\$f.prev\" \"\$f\"; exit 65; fi
      $nginx -s reload"
done
mark switched

# 4. curl through every router until VERIFY_REQUESTS answers in a row are the new version
deadline=$(( $(date +%s) + VERIFY_TIMEOUT ))
for i in "${!names[@]}"; do
  ok=0
  while [ "$ok" -lt "$VERIFY_REQUESTS" ]; do
    got="$(curl -sS -o /dev/null --max-time 2 -w '%{http_code} %header{x-app-version}' "http://${addrs[$i]}:$NGINX_PORT/" || true)"
    if [ "$got" = "200 $version" ]; then ok=$((ok + 1)); else ok=0; sleep 0.05; fi
    if [ "$(date +%s)" -gt "$deadline" ]; then echo "${names[$i]}: still not serving $version (last: $got)" >&2; exit 1; fi
  done
done
mark verified
