#!/bin/sh
# A private systemd USER manager for tests (TESTING.md, systemd), as root:
#
#   unshare --mount --propagation private tests/systemd_ns.sh BASE
#
# In its own mount namespace it binds an empty folder holding `system/` over /run/systemd,
# so the manager believes it runs on a systemd-booted machine (sd_booted(3)) without seeing
# or touching the host's manager, then becomes `systemd --user` with
#   XDG_RUNTIME_DIR=BASE/runtime (0700: its control socket, `systemctl --user` finds it there)
#   XDG_CONFIG_HOME=BASE/config  (units in BASE/config/systemd/user)
#   HOME=BASE/home, XDG_STATE_HOME=BASE/home/.local/state
# and logs to BASE/manager.kmsg. Everything else on the machine is left alone;
# only the manager needs the namespace, `systemctl --user` works from outside it with the
# same XDG_RUNTIME_DIR. SIGTERM (or `systemctl --user exit`) stops its units and ends it.
set -eu

if [ "$#" -ne 1 ]; then
    echo "usage: unshare --mount --propagation private $0 BASE" >&2
    exit 64
fi
base=$1
manager=/lib/systemd/systemd
[ -x "$manager" ] || manager=/usr/lib/systemd/systemd

mkdir -p "$base/run-systemd/system" "$base/runtime" "$base/config" "$base/home"
chmod 0700 "$base/runtime"
# Where systemd is not running, /run/systemd may not exist yet: an empty folder is what
# the systemd package's tmpfiles would make there anyway.
mkdir -p /run/systemd
mount -n --bind "$base/run-systemd" /run/systemd
# No journal here: the manager logs to "/dev/kmsg", which in this namespace is the file
# BASE/manager.kmsg (the kernel's log is left alone); its units' output goes nowhere unless
# a unit says otherwise (a child that logs opens the file afresh and writes over its
# first lines). Without a /dev/kmsg to cover, the manager does not log at all.
: >"$base/manager.kmsg"
log_target=null
if [ -c /dev/kmsg ]; then
    mount -n --bind "$base/manager.kmsg" /dev/kmsg
    log_target=kmsg
fi

export XDG_RUNTIME_DIR="$base/runtime"
export XDG_CONFIG_HOME="$base/config"
export HOME="$base/home"
export XDG_STATE_HOME="$base/home/.local/state"
unset DBUS_SESSION_BUS_ADDRESS NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID INVOCATION_ID
cd "$HOME"
exec "$manager" --user --log-target="$log_target" --log-level=info \
    --default-standard-output=null --default-standard-error=null
