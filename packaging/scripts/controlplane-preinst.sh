#!/bin/sh
# pam-controlplane preinst: the unprivileged system user the service runs as.
# useradd is in every Debian (passwd, priority required) and RPM distribution.
set -e

if ! getent passwd pam-controlplane >/dev/null; then
	useradd --system --user-group --no-create-home \
		--home-dir /var/lib/pam-controlplane --shell /usr/sbin/nologin \
		--comment "ZPAM control plane" pam-controlplane
fi
exit 0
