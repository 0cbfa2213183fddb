# State lives in an OCI Object Storage bucket through its S3-compatible API.
# Partial configuration: every setting is passed at `init` time with
# -backend-config (see README.md), so no namespace, bucket or key is committed.
terraform {
  backend "s3" {}
}
