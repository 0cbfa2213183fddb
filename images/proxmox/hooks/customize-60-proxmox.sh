#!/bin/sh
# mmdebstrap --customize-hook: hand the network to ifupdown2 (Proxmox VE's bridges), drop
# what Proxmox VE does not need here.
set -eu
root=$1

chroot "$root" systemctl disable --quiet systemd-networkd.service
chroot "$root" systemctl enable --quiet networking.service
# NFSv3's portmapper: not used by Ceph or local storage; masked even if not installed.
chroot "$root" systemctl mask --quiet rpcbind.service rpcbind.socket
# The enterprise repository needs a subscription; PXVIRT's repository replaces it.
rm -f "$root/etc/apt/sources.list.d/pve-enterprise.list" \
    "$root/etc/apt/sources.list.d/pve-enterprise.sources"
