#!/bin/sh
# mmdebstrap --customize-hook: the services the image runs, and those it does not.
set -eu
root=$1

chroot "$root" systemctl enable --quiet \
    systemd-networkd.service systemd-resolved.service systemd-timesyncd.service \
    nftables.service auditd.service ssh.service \
    unattended-upgrades.service apt-daily.timer apt-daily-upgrade.timer
# e2scrub checks LVM snapshots; there is no LVM here.
chroot "$root" systemctl disable --quiet e2scrub_reap.service e2scrub_all.timer
