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

# Credentials: the provider reads the API key config file ~/.oci/config of the user
# running tofu (the home directory from the user database, or TF_HOME_OVERRIDE), profile
# DEFAULT, or the profile named by TF_VAR_config_file_profile / OCI_CONFIG_FILE_PROFILE.
# OCI_CONFIG_FILE is read only when ~/.oci/config does not exist and no profile is named;
# OCI_CLI_CONFIG_FILE and OCI_CLI_PROFILE (what freetier's own SDK calls read) are not read:
# freetier hands OCI_CLI_PROFILE on as OCI_CONFIG_FILE_PROFILE (ci/freetier/tofu/run.py).
# Sources: oracle/terraform-provider-oci v8.28.0, internal/provider/provider.go
# (GetSdkConfigProvider) and the vendored oci-go-sdk common/client.go
# (DefaultConfigProvider, getDefaultConfigFilePath). The Dagger functions mount the config
# at /root/.oci/config and set OCI_CONFIG_FILE to it (ci/freetier/pipeline.py), so the
# provider and freetier read the same file. Nothing secret is set here.
provider "oci" {
  region = var.region
}
