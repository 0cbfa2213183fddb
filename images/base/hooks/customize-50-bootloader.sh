#!/bin/sh
# mmdebstrap --customize-hook: GRUB as an EFI application at the removable-media path
# (EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI), so firmware finds it without NVRAM entries.
# Its embedded config (/etc/freetier/grub-early.cfg) finds the root filesystem by UUID
# and reads /boot/grub/grub.cfg there. The build copies /boot/efi into the ESP.
set -eu
root=$1
target=${FREETIER_GRUB_TARGET:?}
loader=${FREETIER_EFI_LOADER:?}
moddir="$root/usr/lib/grub/$target"

mkdir -p "$root/boot/efi/EFI/BOOT" "$root/boot/grub/$target"
# Modules next to grub.cfg, for `insmod` in configs update-grub may write later.
cp "$moddir"/*.mod "$moddir"/*.lst "$root/boot/grub/$target/"
modules=""
for m in part_gpt fat ext2 normal linux boot search search_fs_uuid configfile echo test \
    gzio xzio zstd serial terminal efi_gop all_video loadenv ls cat minicmd reboot halt sleep; do
    if [ -f "$moddir/$m.mod" ]; then modules="$modules $m"; fi
done
# shellcheck disable=SC2086 # one word per module
chroot "$root" grub-mkimage --format="$target" --prefix=/boot/grub \
    --config=/etc/freetier/grub-early.cfg \
    --output="/boot/efi/EFI/BOOT/$loader" $modules
