#!/bin/sh
# mmdebstrap --customize-hook: runs on the build host, the root filesystem is $1.
# Removes what must not be shared by every instance made from the image.
set -eu
root=$1

# SSH host keys are made per instance by cloud-init (ssh_deletekeys): none ship here.
rm -f "$root"/etc/ssh/ssh_host_*_key "$root"/etc/ssh/ssh_host_*_key.pub
# An empty machine-id makes systemd treat the first boot as first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# Build-only apt settings (no Recommends, retries) stay out of the image.
rm -f "$root/etc/apt/apt.conf.d/99mmdebstrap"
# Name resolution through systemd-resolved's stub.
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
# root never logs in with a password (nor over SSH: PermitRootLogin no).
chroot "$root" usermod --lock root
