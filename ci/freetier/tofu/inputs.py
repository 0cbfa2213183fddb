"""What a layer is planned from: its variables, derived from stack.yaml and, for a layer that
reads another (`freetier.layers.UPSTREAM`), from that layer's outputs, read from its state
with `output -json` (never typed twice); and `init` on the layer's own state key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError
from freetier.layers import LAYER_MARKER, UPSTREAM, layer_folder, state_key
from freetier.stack import Stack
from freetier.tofu import run
from freetier.tofu.backend import read_state_object
from freetier.tofu.vars import PRIVATE_IPS, PUBLIC_IPS, tfvars_text

# The outputs of its upstream layer each layer reads: what its upstream digest covers.
UPSTREAM_OUTPUTS: dict[str, tuple[str, ...]] = {"talos": (PRIVATE_IPS, PUBLIC_IPS)}


# Sensitive variables a layer cannot plan without: tofu reads them as TF_VAR_<name>, from a
# secret, and never from a file.
SECRET_INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "talos": (
        (
            "tailscale_authkey",
            "the nodes join the tailnet with it: a Tailscale auth key (tskey-...) from the "
            "TS_AUTH_KEY secret",
        ),
    ),
}


def check_secret_inputs(layer: str, env: Mapping[str, str]) -> None:
    """ConfigError naming each sensitive variable of the layer that the environment lacks."""
    missing = [
        f"TF_VAR_{name}: not set; the {layer} layer needs it: {why}"
        for name, why in SECRET_INPUTS.get(layer, ())
        if not env.get(f"TF_VAR_{name}")
    ]
    if missing:
        raise ConfigError(missing)


@dataclass(frozen=True)
class LayerInputs:
    tfvars: str  # the exact text of stack.auto.tfvars.json
    upstream: dict[str, Any] | None  # the upstream outputs it was derived from (None: none)


def layer_dir(stack_file: Path, layer: str) -> Path:
    folder = layer_folder(stack_file, layer)
    if not (folder / LAYER_MARKER).is_file():
        raise ConfigError([f"{folder}: no such tofu layer (expected versions.tf there)"])
    return folder


def init_layer(
    folder: Path, layer: str, *, backend: bool, backend_config: Path | None, tofu: run.Tofu
) -> None:
    """`init`, on the layer's own state key when a backend settings file names the bucket."""
    key = None
    if backend and backend_config is not None:
        key = state_key(read_state_object(backend_config).key, layer)
    run.init(folder, backend=backend, backend_config=backend_config, key=key, tofu=tofu)


def read_outputs(
    stack_file: Path, layer: str, *, backend: bool, backend_config: Path | None, tofu: run.Tofu
) -> dict[str, Any]:
    """The layer's outputs from its state, name -> value, in clear (sensitive ones too)."""
    folder = layer_dir(stack_file, layer)
    init_layer(folder, layer, backend=backend, backend_config=backend_config, tofu=tofu)
    return {name: entry["value"] for name, entry in run.outputs(folder, tofu=tofu).items()}


def layer_inputs(
    stack: Stack,
    stack_file: Path,
    layer: str,
    *,
    backend: bool,
    backend_config: Path | None,
    tofu: run.Tofu | None = None,
) -> LayerInputs:
    """The layer's variables; for a layer with an upstream, read that layer's outputs first
    (ConfigError, saying to apply it first, when it has none yet)."""
    upstream_layer = UPSTREAM.get(layer)
    if upstream_layer is None:
        return LayerInputs(tfvars_text(stack, layer), None)
    if not (layer_folder(stack_file, upstream_layer) / LAYER_MARKER).is_file():
        folder = layer_folder(stack_file, upstream_layer)
        raise ConfigError([f"{folder}: no such tofu layer; {layer} reads its outputs"])
    if backend and backend_config is None:
        raise ConfigError(
            [
                f"--backend-config: needed to read the {upstream_layer} layer's outputs from its"
                " remote state (or --no-backend: its local state)"
            ]
        )
    outputs = read_outputs(
        stack_file,
        upstream_layer,
        backend=backend,
        backend_config=backend_config,
        tofu=tofu or run.Tofu.find(),
    )
    text = tfvars_text(stack, layer, outputs)  # checks the outputs hold every node
    used = {name: outputs[name] for name in UPSTREAM_OUTPUTS[layer] if name in outputs}
    return LayerInputs(text, used)
