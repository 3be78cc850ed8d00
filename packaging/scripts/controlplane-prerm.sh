#!/bin/sh
# pam-controlplane prerm: stop and disable on removal only; an upgrade
# restarts the service from postinst instead.
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

# disable works without a running systemd (chroot); stop needs one.
systemctl disable pam-controlplane.service || true
if [ -d /run/systemd/system ]; then
	systemctl stop pam-controlplane.service || true
fi
exit 0
