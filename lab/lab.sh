#!/bin/bash
# permafrost test lab: real OpenStack services on 127.0.0.1, from Debian bookworm packages (Zed era):
#   Swift 2.30 (tempauth + keystoneauth), Keystone 22, Glance 25, Cinder 21 (NFS driver on a
#   bind-mounted local dir, backups to Swift), Nova 26 + Placement 8 (fake virt driver labfake.py,
#   Neutron stub), plus memcached, MariaDB (Cinder, Nova) and RabbitMQ (Cinder, Nova).
# Adapted from the hands-on recipe in /work/shared/openstack-lab (see lab/README.md).
#
#   lab.sh install                 apt-get the Debian packages (noninteractive, idempotent)
#   lab.sh up [services...]        init on first use, then start; default: all
#   lab.sh down                    stop every process this lab started (by recorded PID)
#   lab.sh status [services...]    check each service answers; exit 0 only if all do
#   lab.sh env [admin|demo]        print export lines (OS_* as admin or demo, PERMAFROST_TEST_*)
#   lab.sh smoke [tests...]        run smoke.py (default: the tests for the services that are up)
#   lab.sh reset                   down (+ sshd.sh down) + rm -rf $LAB
# services: swift keystone glance cinder nova
#   (cinder implies keystone and glance; nova implies cinder)
# env: LAB (state dir, default /tmp/permafrost-lab), CINDER_BACKUP=swift|posix (default swift),
#      LAB_WAIT_SCALE (multiply every start-up timeout, default 1)
# Must run as root for install and for cinder/nova (mount --bind).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
LAB=${LAB:-/tmp/permafrost-lab}
export LAB
PY=/usr/bin/python3          # Debian's python; never a pyenv/venv shim (it cannot see dist-packages)
ME=$(id -un)
CINDER_BACKUP=${CINDER_BACKUP:-swift}
SHARE="127.0.0.1:$LAB/cinder/nfs-export"
SCALE=${LAB_WAIT_SCALE:-1}
ALL_SERVICES="swift keystone glance cinder nova"

PKGS_BASE="curl sudo iproute2 procps uwsgi-core uwsgi-plugin-python3"
PKGS_SWIFT="swift swift-proxy swift-account swift-container swift-object python3-swiftclient memcached python3-keystonemiddleware"
PKGS_KEYSTONE="keystone"
PKGS_GLANCE="glance-api"
PKGS_CINDER="cinder-api cinder-scheduler cinder-volume cinder-backup rabbitmq-server mariadb-server qemu-utils nfs-common dmidecode"
# NOT nova-compute: it pulls libvirt/qemu-system; the compute service runs from python3-nova with labfake.py
PKGS_NOVA="nova-api nova-conductor nova-scheduler placement-api python3-nova python3-placement"
PKGS_SSH="openssh-server openssh-client"   # for lab/sshd.sh
ALL_PKGS="$PKGS_BASE $PKGS_SWIFT $PKGS_KEYSTONE $PKGS_GLANCE $PKGS_CINDER $PKGS_NOVA $PKGS_SSH"

T0=$(date +%s%N)
log() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[lab %4d.%01ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*"; }

die() {  # die MESSAGE [LOGFILE...] : print the message (and the tail of each log), exit 1
  local msg=$1; shift
  echo "lab.sh: ERROR: $msg" >&2
  for f in "$@"; do
    [ -s "$f" ] && { echo "---- last lines of $f:" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}

secs() { echo $(( $1 * SCALE )); }

render() {  # render etc/<template> -> $2
  sed -e "s#@LAB@#$LAB#g" -e "s#@USER@#$ME#g" "$HERE/etc/$1" > "$2"
}

bg() {  # bg NAME CMD... : start in background, log to $LAB/log/NAME.out, pid to $LAB/run/NAME.pid
  local name=$1; shift
  "$@" >>"$LAB/log/$name.out" 2>&1 &
  echo $! > "$LAB/run/$name.pid"
}

running() { [ -f "$LAB/run/$1.pid" ] && kill -0 "$(cat "$LAB/run/$1.pid")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true; }

# refuse to start NAME if something that is not ours already listens on its port
check_free() {  # check_free NAME PORT...
  local name=$1 p; shift
  running "$name" && return 0
  for p in "$@"; do
    port_open "$p" && die "127.0.0.1:$p is already in use by a process this lab did not start (for $name). \
Is another lab running with a different LAB dir? Check: ss -ltnp | grep :$p"
  done
  return 0
}

# wait_port NAME PORT SECONDS [LOG]: wait until the port accepts, fail early if NAME's process exits
wait_port() {
  local name=$1 port=$2 n=$(( $(secs "$3") * 10 )) lf=${4:-$LAB/log/$1.out} i
  for ((i = 0; i < n; i++)); do
    port_open "$port" && return 0
    [ -f "$LAB/run/$name.pid" ] && ! running "$name" && die "$name exited during start-up" "$lf" "$LAB/log/$name.out"
    sleep 0.1
  done
  die "$name did not listen on 127.0.0.1:$port within $(secs "$3") s" "$lf" "$LAB/log/$name.out"
}

# wait_http NAME URL SECONDS [LOG]: any HTTP answer counts; fail early if NAME's process exits
wait_http() {
  local name=$1 url=$2 n=$(( $(secs "$3") * 5 )) lf=${4:-$LAB/log/$1.out} i
  for ((i = 0; i < n; i++)); do
    curl -s -o /dev/null -m 5 "$url" && return 0
    [ -f "$LAB/run/$name.pid" ] && ! running "$name" && die "$name exited during start-up" "$lf" "$LAB/log/$name.out"
    sleep 0.2
  done
  die "$name did not answer $url within $(secs "$3") s" "$lf" "$LAB/log/$name.out"
}

need_root() { [ "$(id -u)" = 0 ] || die "$1 needs root (CI runs as root)"; }

# ---------------------------------------------------------------- install
pkgs_missing() {  # prints the packages that are not fully installed
  local p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || echo "$p"
  done
}

# apt_install PKG... : apt-get update once + install, but only when something is missing.
# Packages must not start their own daemons (they would take our ports): if the machine has no
# policy-rc.d, a temporary one that denies every start is put in place for the install.
apt_install() {
  local missing
  missing=$(pkgs_missing "$@" | tr '\n' ' ')
  if [ -z "${missing// /}" ]; then
    log "all $# packages already installed"
    return 0
  fi
  need_root "installing packages"
  local prc=/usr/sbin/policy-rc.d tmp_prc=0
  if [ ! -e "$prc" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod 755 "$prc"; tmp_prc=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  log "installing: $missing"
  apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing
  [ $tmp_prc = 1 ] && { rm -f "$prc"; trap - EXIT; }
  missing=$(pkgs_missing "$@" | tr '\n' ' ')
  [ -z "${missing// /}" ] || die "still not installed: $missing"
  log "packages installed"
}

do_install() {
  # shellcheck disable=SC2086
  apt_install $ALL_PKGS
}

check_installed() {  # check_installed SERVICES : friendly error instead of "command not found"
  local want=" $* " pk=$PKGS_BASE missing
  [[ $want == *" swift "* ]] && pk+=" $PKGS_SWIFT"
  [[ $want =~ \ (keystone|glance|cinder|nova)\  ]] && pk+=" $PKGS_KEYSTONE $PKGS_SWIFT"
  [[ $want =~ \ (glance|cinder|nova)\  ]] && pk+=" $PKGS_GLANCE"
  [[ $want =~ \ (cinder|nova)\  ]] && pk+=" $PKGS_CINDER"
  [[ $want == *" nova "* ]] && pk+=" $PKGS_NOVA"
  # shellcheck disable=SC2086
  missing=$(pkgs_missing $pk | tr '\n' ' ')
  [ -z "${missing// /}" ] || die "packages missing: $missing-- run: bash $HERE/lab.sh install"
}

# ---------------------------------------------------------------- infra
start_memcached() {
  running memcached && return 0
  check_free memcached 11211
  local u=(); [ "$(id -u)" = 0 ] && u=(-u root)
  bg memcached memcached -l 127.0.0.1 -p 11211 -U 0 -m 64 "${u[@]}"
  wait_port memcached 11211 10; log "memcached up"
}

my() { mariadb --defaults-file="$LAB/etc/my.cnf" "$@"; }

start_mariadb() {
  mkdir -p "$LAB/mysql"
  render my.cnf "$LAB/etc/my.cnf"
  if ! running mariadbd; then
    check_free mariadbd 3306
    if [ ! -d "$LAB/mysql/data/mysql" ]; then
      mariadb-install-db --defaults-file="$LAB/etc/my.cnf" --auth-root-authentication-method=socket \
        >>"$LAB/log/mariadb-install.out" 2>&1 || die "mariadb-install-db failed" "$LAB/log/mariadb-install.out"
    fi
    bg mariadbd mariadbd --defaults-file="$LAB/etc/my.cnf"
  fi
  local i n=$(( $(secs 30) * 5 ))
  for ((i = 0; i < n; i++)); do
    my -e 'select 1' >/dev/null 2>&1 && break
    running mariadbd || die "mariadbd exited during start-up" "$LAB/log/mariadb.log" "$LAB/log/mariadbd.out"
    sleep 0.2
  done
  my -e 'select 1' >/dev/null 2>&1 || die "mariadb did not answer within $(secs 30) s" "$LAB/log/mariadb.log"
  my -e "CREATE DATABASE IF NOT EXISTS cinder;
    CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY 'dbpass';
    GRANT ALL ON *.* TO 'openstack'@'127.0.0.1'; FLUSH PRIVILEGES;"
  log "mariadb up"
}

rabbit_env() {
  mkdir -p "$LAB/rabbitmq/home" "$LAB/rabbitmq/mnesia"
  export HOME="$LAB/rabbitmq/home"                   # erlang cookie lives here
  export RABBITMQ_NODENAME=rabbit@localhost
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 RABBITMQ_DIST_PORT=25672
  export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=4369
  export RABBITMQ_CONFIG_FILE="$LAB/etc/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$LAB/etc/rabbitmq-enabled-plugins"
  export RABBITMQ_MNESIA_BASE="$LAB/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$LAB/log"
  export RABBITMQ_PID_FILE="$LAB/run/rabbitmq.pid"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

start_rabbitmq() {
  if ! running rabbitmq-server; then
    check_free rabbitmq-server 5672 25672
    render rabbitmq.conf "$LAB/etc/rabbitmq.conf"
    echo '[].' > "$LAB/etc/rabbitmq-enabled-plugins"
    ( rabbit_env
      if ! running epmd; then
        check_free epmd 4369
        bg epmd epmd -address 127.0.0.1 -port 4369     # our own epmd, so we own its PID
        wait_port epmd 4369 10
      fi
      # the /usr/lib one: /usr/sbin/rabbitmq-server would su to the rabbitmq user
      bg rabbitmq-server /usr/lib/rabbitmq/bin/rabbitmq-server )
  fi
  wait_port rabbitmq-server 5672 90; log "rabbitmq up"
}

# ---------------------------------------------------------------- keystone
wal() { $PY -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$1"; }

init_keystone() {
  mkdir -p "$LAB/keystone"/{fernet-keys,credential-keys}
  render keystone.conf "$LAB/etc/keystone.conf"
  [ -f "$LAB/keystone/.bootstrap-done" ] && return 0
  local km=(keystone-manage --config-file "$LAB/etc/keystone.conf") o="$LAB/log/keystone-manage.out"
  # keystone-manage prints harmless eventlet noise at exit, hence the log file
  { "${km[@]}" db_sync &&
    wal "$LAB/keystone/keystone.db" &&
    "${km[@]}" fernet_setup --keystone-user "$ME" --keystone-group "$(id -gn)" &&
    "${km[@]}" credential_setup --keystone-user "$ME" --keystone-group "$(id -gn)" &&
    "${km[@]}" bootstrap --bootstrap-password secret --bootstrap-region-id RegionOne \
      --bootstrap-admin-url http://127.0.0.1:5000/v3/ --bootstrap-internal-url http://127.0.0.1:5000/v3/ \
      --bootstrap-public-url http://127.0.0.1:5000/v3/
  } >>"$o" 2>&1 || die "keystone db_sync/bootstrap failed" "$o" "$LAB/log/keystone.log"
  touch "$LAB/keystone/.bootstrap-done"
  log "keystone db + bootstrap done"
}

start_keystone() {
  check_free keystone 5000
  init_keystone
  if ! running keystone; then
    # --http11-socket: keep-alive aware (plain --http-socket resets python-requests' pooled
    # connections); threads=1: SQLite + threads => "database is locked"
    OS_KEYSTONE_CONFIG_FILES="$LAB/etc/keystone.conf" bg keystone \
      uwsgi --plugins python3 --http11-socket 127.0.0.1:5000 --wsgi-file /usr/bin/keystone-wsgi-public \
        --master --processes 2 --threads 1 --lazy-apps --die-on-term --buffer-size 65535 \
        --logto "$LAB/log/keystone-uwsgi.log"
  fi
  wait_http keystone http://127.0.0.1:5000/v3 90 "$LAB/log/keystone-uwsgi.log"; log "keystone up"
  if [ ! -f "$LAB/keystone/.done" ]; then
    $PY "$HERE/keystone_setup.py" secret >>"$LAB/log/keystone-setup.out" 2>&1 \
      || die "keystone_setup.py failed" "$LAB/log/keystone-setup.out" "$LAB/log/keystone.log"
    touch "$LAB/keystone/.done"
    log "keystone users/services/endpoints registered"
  fi
}

# ---------------------------------------------------------------- swift
init_swift() {
  mkdir -p "$LAB/swift"/{etc,node/d1,cache}
  for f in swift.conf proxy-server.conf account-server.conf container-server.conf object-server.conf; do
    render "$f" "$LAB/swift/etc/$f"
  done
  if [ "${SWIFT_KEYSTONE:-1}" = 0 ]; then   # tempauth only: no keystone lookups per request
    sed -i 's/ authtoken keystoneauth / /' "$LAB/swift/etc/proxy-server.conf"
  fi
  [ -f "$LAB/swift/etc/object.ring.gz" ] && return 0
  ( cd "$LAB/swift/etc"
    for r in account:6202 container:6201 object:6200; do
      n=${r%%:*}; p=${r##*:}
      swift-ring-builder $n.builder create 8 1 1 >/dev/null
      swift-ring-builder $n.builder add r1z1-127.0.0.1:$p/d1 100 >/dev/null
      swift-ring-builder $n.builder rebalance >/dev/null || [ $? = 1 ]   # 1 = warning
    done ) || die "swift ring build failed"
  log "swift rings built"
}

start_swift() {
  init_swift
  local e="$LAB/swift/etc" s
  if running swift-proxy && [ "$(cat "$LAB/run/swift-keystone" 2>/dev/null)" != "${SWIFT_KEYSTONE:-1}" ]; then
    stop_pid swift-proxy 10    # the proxy pipeline changes (keystoneauth on/off): restart it
  fi
  check_free swift-account 6202; check_free swift-container 6201; check_free swift-object 6200
  check_free swift-proxy 8080
  for s in account container object; do
    running swift-$s || bg swift-$s swift-$s-server "$e/$s-server.conf" -v
  done
  running swift-container-updater || bg swift-container-updater swift-container-updater "$e/container-server.conf" -v
  running swift-object-updater || bg swift-object-updater swift-object-updater "$e/object-server.conf" -v
  running swift-proxy || bg swift-proxy swift-proxy-server "$e/proxy-server.conf" -v
  echo "${SWIFT_KEYSTONE:-1}" > "$LAB/run/swift-keystone"
  wait_port swift-object 6200 60; wait_port swift-container 6201 60; wait_port swift-account 6202 60
  wait_http swift-proxy http://127.0.0.1:8080/healthcheck 60; log "swift up"
}

# ---------------------------------------------------------------- glance
start_glance() {
  mkdir -p "$LAB/glance"/{images,staging,tasks,lock}
  render glance-api.conf "$LAB/etc/glance-api.conf"
  if [ ! -f "$LAB/glance/.done" ]; then
    glance-manage --config-file "$LAB/etc/glance-api.conf" db_sync >>"$LAB/log/glance-manage.out" 2>&1 \
      || die "glance-manage db_sync failed" "$LAB/log/glance-manage.out"
    wal "$LAB/glance/glance.db"
    touch "$LAB/glance/.done"
    log "glance db synced"
  fi
  if ! running glance-api; then
    check_free glance-api 9292
    bg glance-api glance-api --config-file "$LAB/etc/glance-api.conf"
  fi
  wait_http glance-api http://127.0.0.1:9292/healthcheck 60 "$LAB/log/glance-api.log"; log "glance up"
}

# ---------------------------------------------------------------- cinder
start_cinder() {  # launch only; wait_cinder waits
  mkdir -p "$LAB/cinder"/{etc,state,lock,backups,nfs-export,mnt}
  render cinder.conf "$LAB/cinder/etc/cinder.conf"
  if [ "$CINDER_BACKUP" = posix ]; then
    sed -i 's#^backup_driver = .*#backup_driver = cinder.backup.drivers.posix.PosixBackupDriver#' "$LAB/cinder/etc/cinder.conf"
  fi
  echo "$SHARE" > "$LAB/cinder/etc/nfs_shares"
  # fake the NFS mount: bind-mount the export dir where os-brick looks for it
  local h; h=$($PY -c "import hashlib,sys;print(hashlib.md5(sys.argv[1].encode()).hexdigest())" "$SHARE")
  mkdir -p "$LAB/cinder/mnt/$h"
  mountpoint -q "$LAB/cinder/mnt/$h" || mount --bind "$LAB/cinder/nfs-export" "$LAB/cinder/mnt/$h" \
    || die "mount --bind for the cinder NFS share failed (needs root / CAP_SYS_ADMIN)"
  local c=(--config-file "$LAB/cinder/etc/cinder.conf") s
  if [ ! -f "$LAB/cinder/.done" ]; then
    cinder-manage "${c[@]}" db sync >>"$LAB/log/cinder-manage.out" 2>&1 \
      || die "cinder-manage db sync failed" "$LAB/log/cinder-manage.out"
    touch "$LAB/cinder/.done"
    log "cinder db synced"
  fi
  check_free cinder-api 8776
  for s in api scheduler volume backup; do
    running cinder-$s || bg cinder-$s cinder-$s "${c[@]}"
  done
}

cinder_reporting() {  # number of cinder services (scheduler, volume, backup) that reported in the last 30 s
  my -N cinder -e "select count(*) from services where deleted=0 and disabled=0
    and updated_at > utc_timestamp() - interval 30 second" 2>/dev/null || echo 0
}

wait_cinder() {
  wait_http cinder-api http://127.0.0.1:8776/ 120 "$LAB/log/cinder-api.log"
  local i n=0 s
  for ((i = 0; i < $(secs 120); i++)); do
    n=$(cinder_reporting); [ "${n:-0}" -ge 3 ] && break
    for s in scheduler volume backup; do
      running cinder-$s || die "cinder-$s exited during start-up" "$LAB/log/cinder-$s.log" "$LAB/log/cinder-$s.out"
    done
    sleep 1
  done
  [ "${n:-0}" -ge 3 ] || die "cinder services not reporting within $(secs 120) s ($n of 3)" \
    "$LAB/log/cinder-volume.log" "$LAB/log/cinder-backup.log" "$LAB/log/cinder-scheduler.log"
  log "cinder up ($n services reporting)"
}

# ---------------------------------------------------------------- nova
NOVA_CELL0_DB="mysql+pymysql://openstack:dbpass@127.0.0.1/nova_cell0?charset=utf8"

nova_sql() { my -N -e "$1" 2>/dev/null; }

init_nova() {
  mkdir -p "$LAB/nova"/{state,instances,lock} "$LAB/etc/placement"
  render nova.conf "$LAB/etc/nova.conf"
  # compute gets no DB credentials, as on a real compute node (else: "No DB access allowed" noise)
  awk '/^\[/ { skip = ($0 == "[database]" || $0 == "[api_database]") } !skip' \
    "$LAB/etc/nova.conf" > "$LAB/etc/nova-compute.conf"
  render placement.conf "$LAB/etc/placement/placement.conf"
  if [ ! -f "$LAB/keystone/.done-nova" ]; then
    $PY "$HERE/keystone_setup.py" secret nova >>"$LAB/log/keystone-setup.out" 2>&1 \
      || die "keystone_setup.py nova failed" "$LAB/log/keystone-setup.out"
    touch "$LAB/keystone/.done-nova"
    log "keystone: nova/placement users and compute/placement/network endpoints registered"
  fi
  [ -f "$LAB/nova/.db-done" ] && return 0
  nova_sql "CREATE DATABASE IF NOT EXISTS nova_api; CREATE DATABASE IF NOT EXISTS nova_cell0;
    CREATE DATABASE IF NOT EXISTS nova; CREATE DATABASE IF NOT EXISTS placement;"
  local nm=(nova-manage --config-file "$LAB/etc/nova.conf") o="$LAB/log/nova-manage.out" ppid rc=0
  # placement's schema in parallel with nova's (both are mostly python start-up time)
  placement-manage --config-file "$LAB/etc/placement/placement.conf" db sync \
    >>"$LAB/log/placement-manage.out" 2>&1 &
  ppid=$!
  { "${nm[@]}" api_db sync &&
    "${nm[@]}" cell_v2 map_cell0 --database_connection "$NOVA_CELL0_DB" &&
    { "${nm[@]}" cell_v2 create_cell --name cell1 || [ $? = 2 ]; } &&   # 2 = exists
    "${nm[@]}" db sync                                                   # cell1 + cell0
  } >>"$o" 2>&1 || rc=1
  wait $ppid || die "placement-manage db sync failed" "$LAB/log/placement-manage.out"
  [ $rc = 0 ] || die "nova-manage db setup failed" "$o"
  touch "$LAB/nova/.db-done"
  log "nova + placement dbs synced, cells v2 set up"
}

start_nova() {  # launch only; wait_nova waits
  init_nova
  local c=(--config-file "$LAB/etc/nova.conf") t0 launched=0 s
  t0=$(nova_sql "select utc_timestamp()")   # nova keeps naive UTC timestamps
  check_free neutron-stub 9696; check_free placement 8778; check_free nova-api 8774
  if ! running neutron-stub; then bg neutron-stub $PY "$HERE/neutron_stub.py" 9696; fi
  if ! running placement; then
    # like keystone: uwsgi --http11-socket (keep-alive safe); MariaDB, so threads are fine
    OS_PLACEMENT_CONFIG_DIR="$LAB/etc/placement" bg placement \
      uwsgi --plugins python3 --http11-socket 127.0.0.1:8778 --wsgi-file /usr/bin/placement-api \
        --master --processes 1 --threads 4 --lazy-apps --die-on-term --buffer-size 65535 \
        --logto "$LAB/log/placement-uwsgi.log"
  fi
  for s in conductor scheduler api; do
    running nova-$s || { bg nova-$s nova-$s "${c[@]}"; launched=1; }
  done
  # no nova-compute package (it pulls libvirt/qemu): run the service from python3-nova
  # with the lab's FakeDriver subclass labfake.py. Nova imports "nova.virt.<compute_driver>",
  # so the module is aliased into that package after nova.cmd has monkey-patched eventlet.
  if ! running nova-compute; then
    PYTHONPATH="$HERE" PYTHONDONTWRITEBYTECODE=1 bg nova-compute $PY -c 'import sys
from nova.cmd.compute import main
import labfake; sys.modules["nova.virt.labfake"] = labfake
sys.exit(main())' --config-file "$LAB/etc/nova-compute.conf" --log-file "$LAB/log/nova-compute.log"
    launched=1
  fi
  # services must report after this start (or, if all were running already, after their start)
  if [ $launched = 1 ] || [ ! -f "$LAB/run/nova-t0" ]; then echo "$t0" > "$LAB/run/nova-t0"; fi
}

wait_nova() {
  local c=(--config-file "$LAB/etc/nova.conf") t0 n=0 i s
  t0=$(cat "$LAB/run/nova-t0")
  wait_http neutron-stub http://127.0.0.1:9696/ 30
  wait_http placement http://127.0.0.1:8778/ 90 "$LAB/log/placement-uwsgi.log"
  wait_http nova-api http://127.0.0.1:8774/ 120 "$LAB/log/nova-api.log"
  # wait until conductor, scheduler and compute have reported since this start
  # (report_interval 10 s; compute also creates its compute_nodes row by then)
  for ((i = 0; i < $(secs 150); i++)); do
    n=$(nova_sql "select count(*) from nova.services where deleted=0 and updated_at >= '$t0'
      and \`binary\` in ('nova-conductor','nova-scheduler','nova-compute')" || echo 0)
    [ "${n:-0}" -ge 3 ] && break
    for s in conductor scheduler compute; do
      running nova-$s || die "nova-$s exited during start-up" "$LAB/log/nova-$s.log" "$LAB/log/nova-$s.out"
    done
    sleep 1
  done
  [ "${n:-0}" -ge 3 ] || die "nova services not reporting within $(secs 150) s ($n of 3)" \
    "$LAB/log/nova-compute.log" "$LAB/log/nova-conductor.log" "$LAB/log/nova-scheduler.log"
  if [ "$(nova_sql "select count(*) from nova_api.host_mappings" || echo 0)" = 0 ]; then
    nova-manage "${c[@]}" cell_v2 discover_hosts >>"$LAB/log/nova-manage.out" 2>&1 \
      || die "nova-manage cell_v2 discover_hosts failed" "$LAB/log/nova-manage.out"
    log "compute host mapped to cell1 (discover_hosts)"
  fi
  if [ ! -f "$LAB/nova/.flavors-done" ]; then
    $PY "$HERE/keystone_setup.py" secret flavors >>"$LAB/log/keystone-setup.out" 2>&1 \
      || die "creating the lab flavors failed" "$LAB/log/keystone-setup.out" "$LAB/log/nova-api.log"
    touch "$LAB/nova/.flavors-done"
  fi
  log "nova up ($n services reporting)"
}

# ---------------------------------------------------------------- env files
# Credentials are fixed (this is a throw-away loopback lab); see README.md for the names.
env_lines() {  # env_lines admin|demo
  local who=${1:-admin} u p pr
  case $who in
    admin) u=admin p=secret pr=admin ;;
    demo)  u=demo  p=demo   pr=demo ;;
    *) die "env: unknown user '$who' (admin|demo)" ;;
  esac
  cat <<EOF
export LAB='$LAB'
export PERMAFROST_TEST_LAB='$LAB'
export PERMAFROST_TEST_LAB_SERVICES='$(cat "$LAB/run/services" 2>/dev/null || true)'
# Keystone v3 ($who) for the openstack CLI / openstacksdk / keystoneauth
export OS_AUTH_URL='http://127.0.0.1:5000/v3'
export OS_IDENTITY_API_VERSION='3'
export OS_AUTH_TYPE='password'
export OS_USERNAME='$u'
export OS_PASSWORD='$p'
export OS_PROJECT_NAME='$pr'
export OS_USER_DOMAIN_NAME='Default'
export OS_PROJECT_DOMAIN_NAME='Default'
export OS_REGION_NAME='RegionOne'
export OS_INTERFACE='public'
# both Keystone users, for tests
export PERMAFROST_TEST_OS_AUTH_URL='http://127.0.0.1:5000/v3'
export PERMAFROST_TEST_OS_REGION_NAME='RegionOne'
export PERMAFROST_TEST_OS_USER_DOMAIN_NAME='Default'
export PERMAFROST_TEST_OS_PROJECT_DOMAIN_NAME='Default'
export PERMAFROST_TEST_OS_ADMIN_USERNAME='admin'
export PERMAFROST_TEST_OS_ADMIN_PASSWORD='secret'
export PERMAFROST_TEST_OS_ADMIN_PROJECT_NAME='admin'
export PERMAFROST_TEST_OS_USERNAME='demo'
export PERMAFROST_TEST_OS_PASSWORD='demo'
export PERMAFROST_TEST_OS_PROJECT_NAME='demo'
export PERMAFROST_TEST_OS_CLOUDS_YAML='$LAB/clouds.yaml'
# Swift tempauth (v1.0; account TEMPAUTH_test). Not exported as ST_*: the swift CLI would mix
# them with OS_IDENTITY_API_VERSION=3 and POST a v3 auth to the tempauth URL (405).
export PERMAFROST_TEST_SWIFT_AUTH_URL='http://127.0.0.1:8080/auth/v1.0'
export PERMAFROST_TEST_SWIFT_USER='test:tester'
export PERMAFROST_TEST_SWIFT_KEY='testing'
export PERMAFROST_TEST_SWIFT_URL='http://127.0.0.1:8080'
EOF
}

write_env_files() {
  env_lines admin > "$LAB/env"
  env_lines admin | grep -E '^export OS_' > "$LAB/openrc"
  env_lines demo | grep -E '^export OS_' > "$LAB/openrc.demo"
  local who
  { echo "clouds:"
    for who in admin demo; do
      cat <<EOF
  lab-$who:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: $who
      password: $( [ $who = admin ] && echo secret || echo demo )
      project_name: $who
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOF
    done; } > "$LAB/clouds.yaml"
}

# ---------------------------------------------------------------- up/down/status
expand() {  # expand SERVICES... : validate, add implied services, print in canonical order
  local want=" $* " s out=""
  for s in "$@"; do [[ " $ALL_SERVICES " == *" $s "* ]] || die "unknown service '$s' (known: $ALL_SERVICES)"; done
  [[ $want == *" nova "* ]] && want+="cinder "
  [[ $want == *" cinder "* ]] && want+="keystone glance "
  [[ $want == *" glance "* ]] && want+="keystone "
  for s in $ALL_SERVICES; do [[ $want == *" $s "* ]] && out+="$s "; done
  echo "${out% }"
}

do_up() {
  local want ks=0 prev
  want=" $(expand "${@:-$ALL_SERVICES}") "
  prev=$(cat "$LAB/run/services" 2>/dev/null || true)
  [ -n "$prev" ] && want=" $(expand $prev ${want}) "   # services already up stay up
  check_installed $want
  [[ $want =~ \ (cinder|nova)\  ]] && need_root "cinder (mount --bind)"
  [[ $want == *" keystone "* ]] && ks=1
  mkdir -p "$LAB"/{etc,run,log}
  echo "${want# }" | sed 's/ $//' > "$LAB/run/services"
  write_env_files
  log "starting:${want% } (LAB=$LAB)"
  start_memcached
  if [[ $want == *" cinder "* ]]; then start_mariadb; start_rabbitmq; fi
  if [ $ks = 1 ]; then start_keystone; fi
  if [[ $want == *" swift "* ]]; then SWIFT_KEYSTONE=$ks start_swift; fi
  if [[ $want == *" glance "* ]]; then start_glance; fi
  # launch cinder and nova before waiting for either: their start-up overlaps
  if [[ $want == *" cinder "* ]]; then start_cinder; fi
  if [[ $want == *" nova "* ]]; then start_nova; fi
  if [[ $want == *" cinder "* ]]; then wait_cinder; fi
  if [[ $want == *" nova "* ]]; then wait_nova; fi
  write_env_files
  log "lab up in $LAB:${want% }  (credentials: bash $HERE/lab.sh env)"
}

stop_pid() {  # stop_pid NAME [SECONDS] : SIGTERM the recorded PID, wait, then SIGKILL it
  local f="$LAB/run/$1.pid" n=$(( ${2:-30} * 10 )) pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < n; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then echo "SIGKILL $1 ($pid)"; kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$f"
}

do_down() {
  [ -d "$LAB/run" ] || { echo "nothing to stop in $LAB"; return 0; }
  local s f
  for s in nova-compute nova-api nova-scheduler nova-conductor placement neutron-stub \
           cinder-api cinder-scheduler cinder-volume cinder-backup glance-api swift-proxy \
           swift-object-updater swift-container-updater swift-object swift-container swift-account \
           keystone; do
    stop_pid $s 30 &
  done
  wait
  if [ -f "$LAB/run/rabbitmq-server.pid" ]; then
    # beam.smp's own PID (written by rabbit) gets the TERM; the wrapper shell then exits
    if [ -f "$LAB/run/rabbitmq.pid" ]; then cp "$LAB/run/rabbitmq.pid" "$LAB/run/beam.pid"; stop_pid beam 30; fi
    stop_pid rabbitmq-server 10
  fi
  rm -f "$LAB/run/rabbitmq.pid"
  stop_pid epmd 5
  stop_pid mariadbd 30
  stop_pid memcached 5
  for f in "$LAB"/run/*.pid; do [ -f "$f" ] && stop_pid "$(basename "$f" .pid)" 10; done
  for f in "$LAB"/cinder/mnt/*; do if mountpoint -q "$f" 2>/dev/null; then umount "$f"; fi; done
  rm -f "$LAB/run/services" "$LAB/run/nova-t0" "$LAB/run/swift-keystone"
  log "lab down"
}

st() {  # st NAME OK DETAIL
  printf '%-10s %-5s %s\n' "$1" "$([ "$2" = 1 ] && echo ok || echo DOWN)" "$3"
  [ "$2" = 1 ] || bad=1
}

do_status() {
  local want bad=0 c n p ok
  if [ $# -gt 0 ]; then want=$(expand "$@"); else want=$(cat "$LAB/run/services" 2>/dev/null || true); fi
  [ -n "$want" ] || { echo "lab is not up (no $LAB/run/services)"; return 1; }
  want=" $want "
  ok=1; port_open 11211 || ok=0; st memcached $ok "127.0.0.1:11211"
  if [[ $want == *" cinder "* ]]; then
    ok=1; my -e 'select 1' >/dev/null 2>&1 || ok=0; st mariadb $ok "127.0.0.1:3306"
    ok=1; port_open 5672 || ok=0; st rabbitmq $ok "127.0.0.1:5672"
  fi
  if [[ $want == *" keystone "* ]]; then
    c=$(http_code http://127.0.0.1:5000/v3); st keystone "$([ "$c" = 200 ] && echo 1)" "http://127.0.0.1:5000/v3 -> $c"
  fi
  if [[ $want == *" swift "* ]]; then
    c=$(http_code http://127.0.0.1:8080/healthcheck); ok=$([ "$c" = 200 ] && echo 1 || echo 0)
    for p in 6200 6201 6202; do port_open $p || ok=0; done
    st swift "$ok" "http://127.0.0.1:8080/healthcheck -> $c, storage 6200-6202"
  fi
  if [[ $want == *" glance "* ]]; then
    c=$(http_code http://127.0.0.1:9292/healthcheck); st glance "$([ "$c" = 200 ] && echo 1)" "http://127.0.0.1:9292/healthcheck -> $c"
  fi
  if [[ $want == *" cinder "* ]]; then
    c=$(http_code http://127.0.0.1:8776/); n=$(cinder_reporting)
    st cinder "$([ "$c" = 300 ] && [ "${n:-0}" -ge 3 ] && echo 1)" "http://127.0.0.1:8776 -> $c, ${n:-0}/3 services reporting"
  fi
  if [[ $want == *" nova "* ]]; then
    c=$(http_code http://127.0.0.1:8774/); ok=$([ "$c" = 200 ] && echo 1 || echo 0)
    n=$(nova_sql "select count(*) from nova.services where deleted=0 and disabled=0
      and updated_at > utc_timestamp() - interval 30 second" || echo 0)
    [ "${n:-0}" -ge 3 ] || ok=0
    [ "$(http_code http://127.0.0.1:8778/)" = 200 ] || ok=0
    [ "$(http_code http://127.0.0.1:9696/)" = 200 ] || ok=0
    st nova "$ok" "http://127.0.0.1:8774 -> $c, placement 8778, neutron stub 9696, ${n:-0}/3 services reporting"
  fi
  return $bad
}

do_smoke() {
  local tests=() s want
  if [ $# -gt 0 ]; then tests=("$@"); else
    want=" $(cat "$LAB/run/services" 2>/dev/null || true) "
    [ -n "${want// /}" ] || die "lab is not up; start it with: bash $HERE/lab.sh up"
    [[ $want == *" keystone "* ]] && tests+=(keystone)
    if [[ $want == *" swift "* ]]; then
      if [[ $want == *" keystone "* ]]; then tests+=(swift); else tests+=(swift-tempauth); fi
    fi
    [[ $want == *" glance "* ]] && tests+=(glance)
    [[ $want == *" cinder "* ]] && tests+=(cinder cinder-data)
    [[ $want == *" nova "* ]] && tests+=(nova)
  fi
  $PY "$HERE/smoke.py" "${tests[@]}"
}

case ${1:-help} in
  install) do_install ;;
  up) shift; do_up "$@" ;;
  down) do_down ;;
  status) shift; do_status "$@" ;;
  env) shift; env_lines "${1:-admin}" ;;
  smoke) shift; do_smoke "$@" ;;
  reset)
    do_down
    if [ -f "$LAB/sshd/sshd.pid" ]; then LAB=$LAB bash "$HERE/sshd.sh" down; fi
    if grep -q " $LAB/" /proc/mounts; then die "something is still mounted under $LAB; not removing it"; fi
    rm -rf "$LAB"; log "removed $LAB" ;;
  *) sed -n '2,19p' "$0" ;;
esac
