terraform {
  # 1.10: cross-variable `validation` blocks (Terraform >= 1.9, OpenTofu >= 1.8)
  # and `use_lockfile` in the s3 backend (Terraform >= 1.10, OpenTofu >= 1.10).
  required_version = ">= 1.10.0"

  required_providers {
    oci = {
      source  = "oracle/oci"
      version = "~> 8.0"
    }
  }
}

# Credentials come from the OCI CLI config file (~/.oci/config, or
# OCI_CLI_CONFIG_FILE / TF_VAR_* in CI); nothing secret is set here.
provider "oci" {
  region = var.region
}
