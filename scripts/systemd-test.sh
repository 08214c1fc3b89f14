#!/usr/bin/env bash
# The service test (CI, after the package test): boots a real systemd as
# PID 1 of a throw-away container made of this machine's own root, installs
# the Debian package there, and runs communs.service as an operator would:
# `systemctl start` (Type=notify: active once READY=1), `systemctl status`,
# the CLI against the running service, the metrics, `systemctl reload`
# (SIGHUP), a crash (Restart=on-failure) and `systemctl stop`.
#
# The container: private mount, PID and network namespaces; the root is an
# overlay of / with its changes on a tmpfs, entered with pivot_root (the
# kernel refuses user namespaces, which PrivateUsers= needs, to a chrooted
# process). Units that would reach past it (kernel settings, devices, the
# clock, consoles, other services) are masked. Killing its PID 1 ends it and
# everything in it; nothing it wrote stays.
#
# Needs root, systemd, unshare and overlayfs; skipped with a message if not.
#   scripts/systemd-test.sh [PACKAGE.deb]   (default: scripts/package.sh --debug)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

if [ "$(id -u)" -ne 0 ] || [ ! -x /lib/systemd/systemd ] || ! command -v unshare >/dev/null \
    || ! grep -qw overlay /proc/filesystems; then
    echo "systemd test skipped: needs root, systemd, unshare and overlayfs"
    exit 0
fi
deb="${1:-$(scripts/package.sh --debug | tail -n 1)}"
deb="$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"

base=$(mktemp -d)
boot=$(mktemp)
cat >"$boot" <<'EOF'
#!/usr/bin/env bash
# Inside the new namespaces: build the root, then become its systemd.
set -euo pipefail
base=$1
deb=$2
design=$3
mount -t tmpfs -o size=2g tmpfs "$base"
mkdir -p "$base"/{upper,work,merged}
mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/merged"
m="$base/merged"
mount -t proc proc "$m/proc"
mount --rbind /sys "$m/sys"
mount --rbind /dev "$m/dev"
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
for unit in systemd-sysctl.service systemd-udevd.service systemd-udev-trigger.service \
    systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-modules-load.service \
    systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-timesyncd.service \
    systemd-remount-fs.service getty@.service console-getty.service serial-getty@.service \
    systemd-random-seed.service systemd-hwdb-update.service systemd-pcrphase-sysinit.service \
    systemd-pcrphase.service cron.service ssh.service postgresql.service \
    avahi-daemon.service avahi-daemon.socket; do
    ln -sf /dev/null "$m/etc/systemd/system/$unit"
done
mkdir -p "$m/root"
cp "$deb" "$m/root/communs.deb"
# The service reads a folder to publish itself, as its own user: not under
# /root, /home (ProtectHome=) or /tmp (PrivateTmp=; and the container's
# /tmp is its own).
cp -r "$design" "$m/srv/spool-holder"
mkdir -p "$m/.old-root"
cd "$m"
pivot_root . .old-root
umount -l /.old-root
exec env container=other /lib/systemd/systemd --system --unit=multi-user.target
EOF
chmod +x "$boot"

unshare --mount --pid --net --fork --propagation private "$boot" "$base" "$deb" "$PWD/examples/designs/spool-holder" \
    >"$base.log" 2>&1 &
unshare_pid=$!
pid1=""
cleanup() {
    # Killing the container's PID 1 kills everything in it; its mounts go
    # with its mount namespace.
    [ -z "$pid1" ] || kill -9 "$pid1" 2>/dev/null || true
    kill "$unshare_pid" 2>/dev/null || true
    wait "$unshare_pid" 2>/dev/null || true
    rm -f "$boot" "$base.log"
    rmdir "$base" 2>/dev/null || true
}
trap cleanup EXIT

# The container's PID 1 is the unshare's only child, once it is systemd.
for _ in $(seq 100); do
    pid1=$(pgrep -P "$unshare_pid" || true)
    [ -n "$pid1" ] && [ "$(cat "/proc/$pid1/comm" 2>/dev/null)" = systemd ] && break
    pid1=""
    sleep 0.1
done
[ -n "$pid1" ] || { echo "systemd did not start"; cat "$base.log"; exit 1; }
in_container() { nsenter -t "$pid1" -m -p -n -r -w "$@"; }
state=""
for _ in $(seq 300); do
    state=$(in_container systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) break ;; esac
    sleep 0.1
done
echo "== systemd booted in the container: $state"
in_container systemctl --failed --no-pager --plain --no-legend

echo "== dpkg -i, systemctl start communs"
in_container dpkg -i /root/communs.deb >/dev/null
in_container systemctl start communs
# Type=notify: `start` returned once the node sent READY=1.
test "$(in_container systemctl is-active communs)" = active
status=$(in_container systemctl status communs --no-pager --lines=0)
echo "$status" | head -n 9
show() { in_container systemctl show communs -p "$1" --value; }
test "$(show User)" = communs
test "$(show DynamicUser)" = yes
test "$(show WatchdogUSec)" = 1min
# The API answered before READY=1: the CLI finds the running node at once.
node_status=$(in_container communs --home /var/lib/communs node status)
echo "$node_status" | head -n 4
author=$(in_container communs --home /var/lib/communs --json id | jq -r .author)

echo "== a design published through the running service"
design=$(in_container communs --home /var/lib/communs --json publish /srv/spool-holder -m "First version" | jq -r .design)
shown=$(in_container communs --home /var/lib/communs show "$design")
echo "$shown" | head -n 3
# The node could not write the folder's marker (ProtectSystem=strict); the
# CLI, as the folder's owner, did.
in_container grep -q "$design" /srv/spool-holder/.communs
if command -v curl >/dev/null; then
    in_container curl -fsS http://127.0.0.1:4518/metrics | grep -E '^communs_store_designs 1$'
fi

echo "== the journal: levels as priorities, no timestamps"
messages=$(in_container journalctl -u communs -o json --no-pager | jq -r 'select(._COMM == "communs") | "\(.PRIORITY) \(.MESSAGE)"')
echo "$messages" | head -n 4
echo "$messages" | grep -q '^6 communs::daemon: created identity'
if echo "$messages" | grep -qE '^[0-9] (<[0-9]>|[0-9]{4}-[0-9]{2}-[0-9]{2}T)'; then
    echo "a priority prefix or a timestamp reached the journal's message"
    exit 1
fi

echo "== systemctl reload (SIGHUP)"
in_container sed -i 's|^\[network\]$|[network]\nbootstrap = ["/ip4/127.0.0.1/tcp/9/p2p/12D3KooWJKRw4mHczrNidg7WFgjJ5cchcCPBfd38WpkfyrWsKRCR"]|' \
    /etc/communs/config.toml
in_container systemctl reload communs
for _ in $(seq 50); do
    in_container journalctl -u communs --no-pager | grep -q 'reloaded network.bootstrap' && break
    sleep 0.1
done
in_container journalctl -u communs --no-pager | grep 'reloaded network.bootstrap'
test "$(in_container systemctl is-active communs)" = active

echo "== a crash: Restart=on-failure brings it back, with the same identity"
main=$(show MainPID)
in_container kill -KILL "$main"
for _ in $(seq 150); do
    [ "$(show NRestarts)" = 1 ] && [ "$(in_container systemctl is-active communs)" = active ] && break
    sleep 0.1
done
test "$(show NRestarts)" = 1
test "$(in_container systemctl is-active communs)" = active
test "$(in_container communs --home /var/lib/communs --json id | jq -r .author)" = "$author"
in_container communs --home /var/lib/communs show "$design" >/dev/null

echo "== systemctl stop"
in_container systemctl stop communs
test "$(show Result)" = success
in_container journalctl -u communs --no-pager | grep -q 'Deactivated successfully'
echo "systemd test passed in $((SECONDS - start)) s"
