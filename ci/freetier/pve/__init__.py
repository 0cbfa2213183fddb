"""Proxmox VE and Ceph as data, pure: the inventory the bootstrap works on (derived from the
stack and the oci layer's outputs), the parsers of what the Proxmox and Ceph tools print, and
the bootstrap's report."""
