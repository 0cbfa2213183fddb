# One VCN, one internet gateway, one public regional subnet.
# Admin ports (SSH 22, Kubernetes API 6443, Talos API 50000) are open only to
# admin_cidrs; the VCN talks to itself freely (kubelet, etcd, trustd, Cilium
# VXLAN between the nodes); only HTTP(S) and path-MTU ICMP come from anywhere.

resource "oci_core_vcn" "this" {
  compartment_id = var.compartment_ocid
  cidr_blocks    = [var.vcn_cidr]
  display_name   = "${var.name}-vcn"
  dns_label      = local.vcn_dns_label
  freeform_tags  = local.common_tags
}

resource "oci_core_internet_gateway" "this" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name}-igw"
  enabled        = true
  freeform_tags  = local.common_tags
}

resource "oci_core_route_table" "public" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name}-public"
  freeform_tags  = local.common_tags

  route_rules {
    destination       = "0.0.0.0/0"
    destination_type  = "CIDR_BLOCK"
    network_entity_id = oci_core_internet_gateway.this.id
    description       = "Default route to the internet gateway"
  }
}

# Ingress rules are stateless: the stateful egress rule already lets every
# reply out, and stateless rules keep connection tracking off the hot path.
resource "oci_core_security_list" "this" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name}-nodes"
  freeform_tags  = local.common_tags

  egress_security_rules {
    destination      = "0.0.0.0/0"
    destination_type = "CIDR_BLOCK"
    protocol         = "all"
    stateless        = false
    description      = "All egress"
  }

  # Node to node inside the VCN: Kubernetes, etcd, Talos trustd, Cilium, ICMP
  # (type 3 included), and the admin ports from the bastion.
  ingress_security_rules {
    source      = var.vcn_cidr
    source_type = "CIDR_BLOCK"
    protocol    = "all"
    stateless   = true
    description = "All traffic from inside the VCN"
  }

  # Admin ports, one rule per admin CIDR. Literal port numbers keep the rules
  # readable for static checkers such as checkov.
  dynamic "ingress_security_rules" {
    for_each = toset(var.admin_cidrs)
    content {
      source      = ingress_security_rules.value
      source_type = "CIDR_BLOCK"
      protocol    = "6"
      stateless   = true
      description = "SSH from admin ${ingress_security_rules.value}"

      tcp_options {
        min = 22
        max = 22
      }
    }
  }

  dynamic "ingress_security_rules" {
    for_each = toset(var.admin_cidrs)
    content {
      source      = ingress_security_rules.value
      source_type = "CIDR_BLOCK"
      protocol    = "6"
      stateless   = true
      description = "Kubernetes API from admin ${ingress_security_rules.value}"

      tcp_options {
        min = 6443
        max = 6443
      }
    }
  }

  dynamic "ingress_security_rules" {
    for_each = toset(var.admin_cidrs)
    content {
      source      = ingress_security_rules.value
      source_type = "CIDR_BLOCK"
      protocol    = "6"
      stateless   = true
      description = "Talos API from admin ${ingress_security_rules.value}"

      tcp_options {
        min = 50000
        max = 50000
      }
    }
  }

  ingress_security_rules {
    source      = "0.0.0.0/0"
    source_type = "CIDR_BLOCK"
    protocol    = "6"
    stateless   = true
    description = "HTTP from anywhere"

    tcp_options {
      min = 80
      max = 80
    }
  }

  ingress_security_rules {
    source      = "0.0.0.0/0"
    source_type = "CIDR_BLOCK"
    protocol    = "6"
    stateless   = true
    description = "HTTPS from anywhere"

    tcp_options {
      min = 443
      max = 443
    }
  }

  # Path-MTU discovery: "fragmentation needed" from anywhere.
  ingress_security_rules {
    source      = "0.0.0.0/0"
    source_type = "CIDR_BLOCK"
    protocol    = "1"
    stateless   = true
    description = "ICMP type 3 code 4 (path MTU) from anywhere"

    icmp_options {
      type = 3
      code = 4
    }
  }
}

resource "oci_core_subnet" "public" {
  compartment_id             = var.compartment_ocid
  vcn_id                     = oci_core_vcn.this.id
  cidr_block                 = var.subnet_cidr
  display_name               = "${var.name}-public"
  dns_label                  = "nodes"
  route_table_id             = oci_core_route_table.public.id
  security_list_ids          = [oci_core_security_list.this.id]
  prohibit_public_ip_on_vnic = false
  freeform_tags              = local.common_tags
  # No availability_domain: a regional subnet, so ad_rotation can move
  # instances between ADs without touching the network.
}
