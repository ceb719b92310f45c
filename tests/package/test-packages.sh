#!/usr/bin/env bash
# The Debian packages on this machine: installs nightjar-node and nightjar
# (dpkg -i), checks the user, the directories and their modes, the conffile,
# the versions and the manual pages; runs nightjar-node --authority as the
# user nightjar against the installed configuration and reads its /metrics
# (loopback only); then removes the packages (the user, the data and log
# directories and the conffile stay) and purges them (nothing stays).
#
# Usage: bash tests/package/test-packages.sh DIR
#   DIR holds the .deb files of scripts/package.sh (one of each package).
#
# It changes the system: run it as root on a test machine or in CI (CTest
# label "package", registered with -DNIGHTJAR_PACKAGE_TESTS=ON). It refuses
# to run where the packages, the user nightjar or its directories already
# exist, and on any exit it stops the node it started and undoes what it
# installed. Without systemd as PID 1 (a container) the maintainer scripts
# skip systemctl, and this test runs the node with setpriv.
set -euo pipefail

usage() { sed -n '/^# Usage:/,/^#   DIR/p' "$0" | sed 's/^# \{0,1\}//'; }
[[ $# -eq 1 && $1 != -h && $1 != --help ]] || {
  usage >&2
  exit 2
}
dir=$1

checks=0
ok() {
  checks=$((checks + 1))
  echo "ok $checks - $*"
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
expect_eq() {  # description, actual, expected
  [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
  ok "$1: $3"
}

# --- Preconditions: root, the two packages, a machine without Nightjar. ------

[[ $(id -u) -eq 0 ]] || fail "run as root: the test installs packages and creates a system user"
shopt -s nullglob
node_debs=("$dir"/nightjar-node_*.deb)
cli_debs=("$dir"/nightjar_*.deb)
shopt -u nullglob
[[ ${#node_debs[@]} -eq 1 && ${#cli_debs[@]} -eq 1 ]] ||
  fail "$dir needs one nightjar-node_*.deb and one nightjar_*.deb (run scripts/package.sh)"
node_deb=${node_debs[0]}
cli_deb=${cli_debs[0]}
version=$(dpkg-deb -f "$node_deb" Version)
upstream=${version%-*}
for tool in man setpriv; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install man-db util-linux)"
done

installed() {  # package -> true unless dpkg knows nothing of it (or only that it is gone)
  local status
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)
  [[ -n $status && $status != un* && $status != pn* ]]
}
for p in nightjar-node nightjar; do
  ! installed "$p" || fail "$p is already installed here; this test would purge it: run it on a test machine"
done
! getent passwd nightjar >/dev/null || fail "a user nightjar exists here; this test would delete it"
! getent group nightjar >/dev/null || fail "a group nightjar exists here; this test would delete it"
for d in /var/lib/nightjar /var/log/nightjar /etc/nightjar; do
  [[ ! -e $d ]] || fail "$d exists here; this test would delete it"
done

work=$(mktemp -d)
node_pid=
cleanup() {
  local rc=$?
  if [[ -n $node_pid ]] && kill -0 "$node_pid" 2>/dev/null; then
    kill -KILL "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 ]]; then
    for f in "$work"/node.out "$work"/node.err; do
      [[ -s $f ]] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
    done
  fi
  # Undo whatever is left (nothing, after a pass).
  for p in nightjar nightjar-node; do
    if installed "$p"; then
      echo "cleanup: purging $p" >&2
      dpkg -P "$p" >/dev/null 2>&1 || dpkg -P --force-all "$p" >/dev/null 2>&1 || true
    fi
  done
  if getent passwd nightjar >/dev/null; then
    echo "cleanup: removing the user nightjar" >&2
    ps -u nightjar -o pid=,args= 2>/dev/null | sed 's/^/cleanup: still running as nightjar: /' >&2 || true
    userdel nightjar || true
  fi
  if getent group nightjar >/dev/null; then groupdel nightjar || true; fi
  rm -rf /var/lib/nightjar /var/log/nightjar /etc/nightjar "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mode_of() { stat -c '%U:%G %a' "$1"; }

# --- Install. -----------------------------------------------------------------

dpkg -i "$node_deb" "$cli_deb" >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "dpkg -i failed"
}
for p in nightjar-node nightjar; do
  expect_eq "$p installed" "$(dpkg-query -W -f='${Status} ${Version}' "$p")" "install ok installed $version"
done

IFS=: read -r _ _ uid gid _ home shell < <(getent passwd nightjar) || fail "no user nightjar after install"
[[ $uid -lt 1000 ]] || fail "nightjar is uid $uid, not a system user"
ok "user nightjar is a system user (uid $uid)"
expect_eq "nightjar's group" "$(getent group "$gid" | cut -d: -f1)" nightjar
expect_eq "nightjar's home" "$home" /var/lib/nightjar
expect_eq "nightjar's shell" "$shell" /usr/sbin/nologin

check_modes() {
  expect_eq /var/lib/nightjar "$(mode_of /var/lib/nightjar)" "nightjar:nightjar 700"
  expect_eq /var/log/nightjar "$(mode_of /var/log/nightjar)" "nightjar:nightjar 750"
  expect_eq /etc/nightjar "$(mode_of /etc/nightjar)" "root:root 755"
  expect_eq /etc/nightjar/nightjar-node.conf "$(mode_of /etc/nightjar/nightjar-node.conf)" "root:root 644"
  expect_eq /lib/systemd/system/nightjar-node.service \
    "$(mode_of /lib/systemd/system/nightjar-node.service)" "root:root 644"
  for b in nightjar-node nightjar nightjar-simnet; do
    expect_eq "/usr/bin/$b" "$(mode_of "/usr/bin/$b")" "root:root 755"
  done
}
check_modes

dpkg-query -W -f='${Conffiles}\n' nightjar-node | grep -q '^ /etc/nightjar/nightjar-node.conf [0-9a-f]\{32\}$' ||
  fail "/etc/nightjar/nightjar-node.conf is not a conffile of nightjar-node"
ok "/etc/nightjar/nightjar-node.conf is a conffile"
grep -qx 'ExecStart=/usr/bin/nightjar-node --config /etc/nightjar/nightjar-node.conf' \
  /lib/systemd/system/nightjar-node.service || fail "the unit does not run /usr/bin/nightjar-node"
ok "the unit runs /usr/bin/nightjar-node --config /etc/nightjar/nightjar-node.conf"
[[ ! -e /etc/systemd/system/multi-user.target.wants/nightjar-node.service ]] ||
  fail "the unit was enabled on install"
ok "the unit is not enabled on install"

for b in nightjar-node nightjar nightjar-simnet; do
  expect_eq "$b --version" "$("$b" --version)" "$b $upstream"
done
for page in 1:nightjar 1:nightjar-simnet 8:nightjar-node; do
  expect_eq "man -w ${page#*:}" "$(man -w "${page#*:}")" "/usr/share/man/man${page%%:*}/${page#*:}.${page%%:*}.gz"
  warnings=$(MANWIDTH=80 man --warnings "${page#*:}" 2>&1 >/dev/null)
  [[ -z $warnings ]] || fail "man ${page#*:} warns: $warnings"
  ok "man ${page#*:} formats without warnings"
done

# Installing again (what an upgrade runs) keeps the user and the modes.
dpkg -i "$node_deb" "$cli_deb" >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "installing again failed"
}
expect_eq "uid after installing again" "$(id -u nightjar)" "$uid"
check_modes

# --- Run the installed node as nightjar. ----------------------------------------

free_port() {  # a TCP port nothing on this machine uses (from /proc/net/tcp*)
  local port hex
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 30000))
    printf -v hex ':%04X ' "$port"
    grep -qi "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || {
      echo "$port"
      return
    }
  done
  fail "no free TCP port found"
}
as_nightjar() { setpriv --reuid=nightjar --regid=nightjar --init-groups --reset-env -- "$@"; }
config=/etc/nightjar/nightjar-node.conf
port=$(free_port)
address=127.0.0.1:$port

# The installed configuration names /etc/nightjar/network.conf: a network
# whose only authority is this node, written as an operator would
# (docs/OPERATING.md, "A network with several authorities").
line=$(as_nightjar nightjar-node --config "$config" --print-authority-line test --public-address "$address")
[[ $line == "authority = test "*" $address" ]] || fail "unexpected authority line: $line"
ok "nightjar-node --print-authority-line as nightjar: $line"
expect_eq /var/lib/nightjar/identity.key "$(mode_of /var/lib/nightjar/identity.key)" "nightjar:nightjar 600"
{
  echo "network_id = $(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  echo "name = package test"
  echo "$line"
} >/etc/nightjar/network.conf

# Not through as_nightjar: $! must be the node's PID (setpriv execs it).
setpriv --reuid=nightjar --regid=nightjar --init-groups --reset-env -- \
  nightjar-node --config "$config" --authority --listen "$address" --public-address "$address" \
  --metrics 127.0.0.1:0 >"$work/node.out" 2>"$work/node.err" &
node_pid=$!
metrics=
for _ in $(seq 100); do  # 10 s at most
  kill -0 "$node_pid" 2>/dev/null || fail "nightjar-node --authority exited while starting"
  metrics=$(grep -o 'metrics endpoint listening on 127\.0\.0\.1:[0-9]*' "$work/node.err" | head -n 1 | sed 's/.* on //') || true
  [[ -n $metrics ]] && break
  sleep 0.1
done
[[ -n $metrics ]] || fail "nightjar-node did not serve metrics within 10 s"
expect_eq "the node's real and effective uid" "$(awk '/^Uid:/ {print $2, $3}' "/proc/$node_pid/status")" "$uid $uid"
ok "nightjar-node --authority runs as nightjar, listening on $address, metrics on $metrics"

get_metrics() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1#*:}"
    printf "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3
    cat <&3' _ "$metrics"
}
answer=$(get_metrics) || fail "GET http://$metrics/metrics failed"
grep -q '^HTTP/1\.[01] 200' <<<"$answer" || fail "GET /metrics: $(head -n 1 <<<"$answer")"
grep -qF "nightjar_build_info{version=\"$upstream\"} 1" <<<"$answer" || fail "/metrics has no nightjar_build_info for $upstream"
grep -qx 'nightjar_authority 1' <<<"$answer" || fail "/metrics does not say nightjar_authority 1"
ok "GET /metrics: 200, nightjar_build_info{version=\"$upstream\"} 1, nightjar_authority 1"
sleep 3
kill -0 "$node_pid" 2>/dev/null || fail "nightjar-node stopped by itself"
get_metrics | grep -q '^nightjar_uptime_seconds [1-9]' || fail "/metrics after 3 s: no uptime"
ok "still running and answering after 3 s"

kill -TERM "$node_pid"
for _ in $(seq 100); do  # 10 s at most
  kill -0 "$node_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$node_pid" 2>/dev/null && fail "nightjar-node still runs 10 s after SIGTERM"
rc=0
wait "$node_pid" || rc=$?
node_pid=
expect_eq "nightjar-node exit status after SIGTERM" "$rc" 0
stray=$(find /var/lib/nightjar ! -user nightjar)
[[ -z $stray ]] || fail "files in /var/lib/nightjar not owned by nightjar: $stray"
ok "everything in /var/lib/nightjar belongs to nightjar"
rm /etc/nightjar/network.conf  # the test's file, not the package's

# --- Remove: the user, the data, the logs and the conffile stay. ----------------

package_files() {  # the files (not directories) both packages ship
  dpkg-deb --fsys-tarfile "$node_deb" | tar -t | grep -v '/$' | sed 's|^\.||'
  dpkg-deb --fsys-tarfile "$cli_deb" | tar -t | grep -v '/$' | sed 's|^\.||'
}
package_dirs() {
  { dpkg-deb --fsys-tarfile "$node_deb" | tar -t; dpkg-deb --fsys-tarfile "$cli_deb" | tar -t; } |
    grep '/$' | sed -e 's|^\.||' -e 's|/$||' | grep -v '^$' | sort -u
}

dpkg -r nightjar nightjar-node >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "dpkg -r failed"
}
expect_eq "nightjar-node after dpkg -r" "$(dpkg-query -W -f='${db:Status-Abbrev}' nightjar-node)" "rc "
! installed nightjar || fail "nightjar is still known to dpkg after dpkg -r: $(dpkg-query -W -f='${db:Status-Abbrev}' nightjar)"
ok "nightjar is gone after dpkg -r"
while read -r f; do
  if [[ $f == /etc/nightjar/nightjar-node.conf ]]; then
    [[ -f $f ]] || fail "dpkg -r removed the conffile $f"
  else
    [[ ! -e $f ]] || fail "dpkg -r left $f"
  fi
done < <(package_files)
ok "dpkg -r removed every file of the packages but the conffile"
expect_eq "uid after dpkg -r" "$(id -u nightjar)" "$uid"
[[ -f /var/lib/nightjar/identity.key && -d /var/log/nightjar ]] || fail "dpkg -r removed the node's data or log directory"
ok "dpkg -r keeps the user nightjar, /var/lib/nightjar (with the keys) and /var/log/nightjar"

# --- Purge: nothing stays. --------------------------------------------------------

dpkg -P nightjar-node nightjar >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "dpkg -P failed"
}
for p in nightjar-node nightjar; do
  ! installed "$p" || fail "dpkg still knows $p after dpkg -P"
done
ok "dpkg knows neither package after dpkg -P"
! getent passwd nightjar >/dev/null || fail "the user nightjar is left after dpkg -P"
! getent group nightjar >/dev/null || fail "the group nightjar is left after dpkg -P"
ok "the user and the group nightjar are gone"
for d in /var/lib/nightjar /var/log/nightjar /etc/nightjar; do
  [[ ! -e $d ]] || fail "$d is left after dpkg -P"
done
ok "/var/lib/nightjar, /var/log/nightjar and /etc/nightjar are gone"
while read -r f; do
  [[ ! -e $f ]] || fail "dpkg -P left $f"
done < <(package_files)
while read -r d; do
  # A directory of the packages that no other package has, left empty.
  if [[ -d $d ]] && ! dpkg-query -S "$d" >/dev/null 2>&1 && [[ -z $(ls -A "$d") ]]; then
    fail "dpkg -P left the empty directory $d"
  fi
done < <(package_dirs)
ok "no file or directory of the packages is left"
left=$(find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
  -name '*nightjar*' 2>/dev/null || true)
[[ -z $left ]] || fail "systemd unit state left after dpkg -P: $left"
ok "no systemd unit state is left"
owned=$(find /etc /var /run /tmp -xdev -uid "$uid" 2>/dev/null | head -n 5)
[[ -z $owned ]] || fail "files of uid $uid are left: $owned"
ok "no file of uid $uid is left in /etc, /var, /run or /tmp"

echo "$checks passed, 0 failed"
