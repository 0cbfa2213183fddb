"""`freetier proxmox bootstrap`: the proxmox layer, over SSH. Each step reads the hosts' real
state first and changes only what is missing or wrong; steps that can run on the hosts in
parallel do."""
