output "instance_public_ips" {
  description = "Ephemeral public IP of each instance, by name."
  value       = { for name, i in oci_core_instance.node : name => i.public_ip }
}

output "instance_private_ips" {
  description = "Private IP of each instance in the subnet, by name."
  value       = { for name, i in oci_core_instance.node : name => i.private_ip }
}

output "bastion_public_ip" {
  description = "Ephemeral public IP of the bastion, or null when it is disabled."
  value       = one(oci_core_instance.bastion[*].public_ip)
}

output "vcn_id" {
  description = "OCID of the VCN."
  value       = oci_core_vcn.this.id
}

output "subnet_id" {
  description = "OCID of the public regional subnet."
  value       = oci_core_subnet.public.id
}

output "image_ocids" {
  description = "Image OCID each instance was planned with, by name (bastion included)."
  value = merge(
    { for name, i in var.instances : name => lookup(var.image_ocids, local.instance_arch[name], null) },
    var.bastion.enabled ? { (var.bastion.name) = lookup(var.image_ocids, local.bastion_arch, null) } : {},
  )
}

output "availability_domains" {
  description = "Availability domain each instance actually runs in, by name (bastion included)."
  value = merge(
    { for name, i in oci_core_instance.node : name => i.availability_domain },
    { for b in oci_core_instance.bastion : var.bastion.name => b.availability_domain },
  )
}

output "quota_statements" {
  description = "The compartment quota statements applied to the tenancy."
  value       = oci_limits_quota.free_tier.statements
}
