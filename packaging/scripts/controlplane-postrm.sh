#!/bin/sh
# pam-controlplane postrm. Purge (deb only) deletes the data directory,
# including the CA: agents enrolled with it must enroll again. The system
# user is kept, as Debian policy asks, so that no later user reuses its uid
# on files it may still own.
set -e

case "$1" in
purge)
	rm -rf /var/lib/pam-controlplane
	;;
esac

case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	;;
esac
exit 0
