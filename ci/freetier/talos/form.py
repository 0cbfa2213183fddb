"""Which machine-configuration form a Talos version reads. Pure.

Talos 1.13 configures Kubernetes through the v1alpha1 document (`cluster.network`,
`cluster.proxy`, `machine.kubelet`, ...). Talos 1.14 moves those settings into multi-document
kinds (KubeNetworkConfig, KubeProxyConfig, KubePrismConfig, KubeNodeConfig, ...; the
"Kubernetes Multi-document Configuration" note in hack/release.toml at v1.14.0-rc.1, the
newest 1.14 tag reachable from here), and a machine configuration generated for 1.14 holds
those documents instead of the v1alpha1 fields (pkg/machinery/config/generate/init.go:
`nilIf(VersionContract.MultidocKubernetesConfigSupported(), ...)`). The two are exclusive:
each new kind refuses a config whose v1alpha1 part still sets the field it replaces
(`V1Alpha1ConflictValidate` in pkg/machinery/config/types/k8s), so a patch must be written in
the form of the pinned line.
"""

from __future__ import annotations

from typing import Literal

from freetier.errors import ConfigError
from freetier.stack.compat import minor

ConfigForm = Literal["v1alpha1-1.13", "multidoc-1.14"]
V1ALPHA1: ConfigForm = "v1alpha1-1.13"
MULTIDOC: ConfigForm = "multidoc-1.14"
FORMS: dict[tuple[int, int], ConfigForm] = {(1, 13): V1ALPHA1, (1, 14): MULTIDOC}


def config_form(talos_version: str) -> ConfigForm:
    """The machine-config form written for a Talos version; ConfigError for one not written."""
    form = FORMS.get(minor(talos_version))
    if form is None:
        raise ConfigError(
            [
                f"versions.talos: {talos_version}: freetier writes the machine configuration of "
                "Talos 1.13 (v1alpha1 patches) and 1.14 (multi-document kinds) only; pin a "
                "v1.13 or v1.14 release"
            ]
        )
    return form
