#!/usr/bin/env bash
# Starts a real S3 server for the test suite: Ceph's RADOS Gateway on a single-node loopback
# cluster (one monitor, one memstore OSD, one radosgw), installed from Debian packages if missing.
#
#   scripts/s3-test-server.sh          start (or reuse a running one); prints `export …` lines
#   scripts/s3-test-server.sh stop     stop the daemons and remove the state directory
#
# Usage from a shell: eval "$(scripts/s3-test-server.sh)". Progress goes to stderr, only the
# export lines to stdout. Exits non-zero, saying why, when the gateway does not come up.
#
# Why RGW: it honours `If-None-Match: *` and (unquoted) `If-Match` atomically, which is what the
# S3 adapter's guarantees rest on; the npm S3 mocks ignore conditional headers.
set -euo pipefail

DIR="${MODEL_ROLLOUT_RGW_DIR:-/tmp/model-rollout-rgw}"
ACCESS_KEY="model-rollout-test"
SECRET_KEY="model-rollout-test-secret-key"
CONF="$DIR/ceph.conf"

log() { echo "s3-test-server: $*" >&2; }
die() { echo "s3-test-server: FATAL: $*" >&2; exit 1; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_all() {
  for daemon in rgw osd mon; do
    local pidfile="$DIR/$daemon.pid"
    if pid_alive "$pidfile"; then
      local pid
      pid="$(cat "$pidfile")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}

print_exports() {
  local endpoint
  endpoint="$(cat "$DIR/endpoint")"
  echo "export MODEL_ROLLOUT_TEST_S3_ENDPOINT=$endpoint"
  echo "export MODEL_ROLLOUT_TEST_S3_ACCESS_KEY=$ACCESS_KEY"
  echo "export MODEL_ROLLOUT_TEST_S3_SECRET_KEY=$SECRET_KEY"
  echo "export MODEL_ROLLOUT_TEST_S3_REGION=us-east-1"
}

answers() { curl -s -o /dev/null -m 2 "$1"; }

if [ "${1:-start}" = "stop" ]; then
  stop_all
  rm -rf "$DIR"
  log "stopped"
  exit 0
fi
[ "${1:-start}" = "start" ] || die "unknown command '$1' (expected start or stop)"

# Reuse a gateway this script started earlier, if all three daemons still run and it answers.
if [ -f "$DIR/endpoint" ] && pid_alive "$DIR/mon.pid" && pid_alive "$DIR/osd.pid" && pid_alive "$DIR/rgw.pid" \
  && answers "$(cat "$DIR/endpoint")"; then
  log "reusing the running gateway at $(cat "$DIR/endpoint")"
  print_exports
  exit 0
fi

if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null \
  || ! command -v radosgw-admin >/dev/null || ! command -v curl >/dev/null; then
  [ "$(id -u)" = 0 ] || die "Ceph RGW is not installed and installing it needs root (apt-get install ceph-mon ceph-osd radosgw ceph-common curl)"
  log "installing Ceph RGW from Debian packages"
  apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    ceph-mon ceph-osd radosgw ceph-common curl >&2 || die "apt-get install of ceph-mon ceph-osd radosgw ceph-common failed"
fi

stop_all
rm -rf "$DIR"
mkdir -p "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log"

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
MON_PORT="$(free_port)"
RGW_PORT="$(free_port)"
while [ "$RGW_PORT" = "$MON_PORT" ]; do RGW_PORT="$(free_port)"; done
FSID="$(cat /proc/sys/kernel/random/uuid)"

cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
run dir = $DIR/run
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
pid file = $DIR/\$type.pid
keyring = /dev/null

[mon.a]
mon data = $DIR/mon

[osd.0]
osd data = $DIR/osd
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 460
osd max object namespace len = 64

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw dns name = 127.0.0.1
rgw enable usage log = false
pid file = $DIR/rgw.pid
EOF

started=$(date +%s)
log "creating the monitor (port $MON_PORT)"
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null 2>&1 \
  || die "monmaptool failed"
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >>"$DIR/log/setup.log" 2>&1 \
  || die "ceph-mon --mkfs failed (see $DIR/log/setup.log)"
ceph-mon -c "$CONF" -i a >>"$DIR/log/setup.log" 2>&1 || die "ceph-mon did not start (see $DIR/log/mon.a.log)"

ceph_cli() { timeout 20 ceph -c "$CONF" "$@" 2>>"$DIR/log/setup.log"; }
for _ in $(seq 1 60); do ceph_cli mon stat >/dev/null && break; sleep 0.5; done
ceph_cli mon stat >/dev/null || die "the monitor does not answer (see $DIR/log/mon.a.log)"

log "creating the memstore OSD"
OSD_ID="$(ceph_cli osd create)" || die "ceph osd create failed"
[ "$OSD_ID" = 0 ] || die "expected osd id 0, got '$OSD_ID'"
ceph-osd -c "$CONF" -i 0 --mkfs >>"$DIR/log/setup.log" 2>&1 || die "ceph-osd --mkfs failed (see $DIR/log/setup.log)"
ceph_cli osd crush add-bucket localhost host >/dev/null || true
ceph_cli osd crush move localhost root=default >/dev/null || true
ceph_cli osd crush add osd.0 1.0 host=localhost >/dev/null || die "adding osd.0 to the crush map failed"
ceph-osd -c "$CONF" -i 0 >>"$DIR/log/setup.log" 2>&1 || die "ceph-osd did not start (see $DIR/log/osd.0.log)"
for _ in $(seq 1 60); do
  ceph_cli osd dump 2>/dev/null | grep -q '^osd.0 up' && break
  sleep 0.5
done
ceph_cli osd dump | grep -q '^osd.0 up' || die "osd.0 did not come up (see $DIR/log/osd.0.log)"

log "starting radosgw (port $RGW_PORT)"
radosgw -c "$CONF" -n client.rgw >>"$DIR/log/setup.log" 2>&1 || die "radosgw did not start (see $DIR/log/client.rgw.log)"
ENDPOINT="http://127.0.0.1:$RGW_PORT"
for _ in $(seq 1 120); do answers "$ENDPOINT" && break; sleep 0.5; done
answers "$ENDPOINT" || die "radosgw does not answer at $ENDPOINT (see $DIR/log/client.rgw.log)"

timeout 30 radosgw-admin -c "$CONF" -n client.rgw user create --uid model-rollout-test --display-name "model-rollout tests" \
  --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" >>"$DIR/log/setup.log" 2>&1 \
  || die "radosgw-admin user create failed (see $DIR/log/setup.log)"

echo "$ENDPOINT" >"$DIR/endpoint"
log "up at $ENDPOINT in $(( $(date +%s) - started )) s"
print_exports
