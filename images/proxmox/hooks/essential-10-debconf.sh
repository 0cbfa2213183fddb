#!/bin/sh
# mmdebstrap --essential-hook: answers for the packages Proxmox VE pulls in, before they
# are installed. Postfix delivers locally only (Proxmox VE's notifications).
set -eu
root=$1
chroot "$root" debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string localhost
SEL
