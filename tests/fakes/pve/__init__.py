"""A Proxmox VE + Ceph cluster simulator behind real SSH servers (asyncssh), one per test host
on its own loopback address, all sharing one cluster state with Proxmox's rules."""
