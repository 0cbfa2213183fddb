"""SOPS + age secrets: the identity, `.sops.yaml`, and encrypted Kubernetes Secret files."""

from freetier.secrets.age import IDENTITY_FILE, Identity, ensure_identity, read_recipient
from freetier.secrets.model import (
    PLACEHOLDER_ANNOTATION,
    SecretKey,
    SecretSpec,
    placeholder_document,
    secret_document,
)
from freetier.secrets.sops import locate_sops
from freetier.secrets.sops_config import (
    ENCRYPTED_REGEX,
    PATH_REGEX,
    SOPS_CONFIG,
    read_config_recipients,
    sops_config_text,
)
from freetier.secrets.store import (
    InitResult,
    SecretTarget,
    encrypt_placeholder,
    init_secrets,
    read_secret_file,
    seed_placeholder,
    set_secret_value,
)

__all__ = [
    "ENCRYPTED_REGEX",
    "IDENTITY_FILE",
    "PATH_REGEX",
    "PLACEHOLDER_ANNOTATION",
    "SOPS_CONFIG",
    "Identity",
    "InitResult",
    "SecretKey",
    "SecretSpec",
    "SecretTarget",
    "encrypt_placeholder",
    "ensure_identity",
    "init_secrets",
    "locate_sops",
    "placeholder_document",
    "read_config_recipients",
    "read_recipient",
    "read_secret_file",
    "secret_document",
    "seed_placeholder",
    "set_secret_value",
    "sops_config_text",
]
