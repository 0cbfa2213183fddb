"""`--live`: the tenancy's existing resources, read by the real oci SDK from a local fake OCI
(tests/fakes/oci_server.py) over HTTP; no SDK method is patched."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import oci
import pytest

from freetier.errors import ConfigError, RemoteError
from freetier.guard.resources import Resource
from freetier.oci_clients import RetryPolicy, load_oci_config, make_client, service_endpoint
from freetier.tenancy import (
    LiveListing,
    attached_instances,
    boot_volume_resource,
    convert,
    instance_resource,
    load_balancer_resource,
    read_live,
    vcn_resource,
)
from tests.fakes.oci_server import FakeTenancy, fake_tenancy, write_oci_credentials

FAST = RetryPolicy(max_attempts=3, base_sleep_seconds=0.01, max_sleep_seconds=0.05)
GIB = 1024**3


@pytest.fixture
def tenancy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTenancy]:
    """A fake OCI with a page size of 2, so every list of three or more is paginated."""
    with fake_tenancy(tmp_path, monkeypatch.setenv, page_size=2) as running:
        yield running


@pytest.fixture
def config(tenancy: FakeTenancy, tmp_path: Path) -> dict[str, object]:
    return load_oci_config(os.environ, tmp_path)


def _live(type_: str, name: str, ocid: str, values: dict[str, object]) -> Resource:
    return Resource(f"live:{type_}.{name}", type_, values, "live", ocid)


def test_reads_every_counted_resource_of_the_compartment(
    tenancy: FakeTenancy, config: dict[str, object]
) -> None:
    fake = tenancy.fake
    ad1, ad2 = fake.availability_domains
    prod = fake.add_compartment("ocid1.compartment.oc1..aaaaprod")
    other = fake.add_compartment("ocid1.compartment.oc1..aaaaother")

    cp = fake.add_instance(prod, "cp", ocpus=1, memory_in_gbs=6, availability_domain=ad1)
    old = fake.add_instance(prod, "old", ocpus=1, memory_in_gbs=6, state="TERMINATED")
    cp_boot = fake.add_boot_volume(prod, "cp-boot", size_in_gbs=50, attached_to=cp)
    old_boot = fake.add_boot_volume(prod, "old-boot", size_in_gbs=47)
    fake.add_boot_volume(prod, "gone-boot", state="TERMINATED")
    data = fake.add_volume(prod, "data", size_in_gbs=50, availability_domain=ad2)
    boot_backup = fake.add_volume_backup(prod, "cp-boot-backup", boot=True, source_id=cp_boot)
    data_backup = fake.add_volume_backup(prod, "data-backup", size_in_gbs=50, source_id=data)
    logs = fake.add_bucket(prod, "logs", approximate_size=GIB // 1024)
    backups = fake.add_bucket(prod, "backups", approximate_size=5 * GIB, storage_tier="Archive")
    ip = fake.add_public_ip(prod, "192.0.2.7", display_name="ingress")
    fake.add_public_ip(prod, "192.0.2.8", display_name="ephemeral", lifetime="EPHEMERAL")
    lb = fake.add_load_balancer(prod, "lb", minimum_mbps=10, maximum_mbps=10)
    nlb = fake.add_network_load_balancer(prod, "nlb")
    main = fake.add_vcn(prod, "main", ["10.0.0.0/16"])
    lab = fake.add_vcn(prod, "lab", ["10.1.0.0/16", "10.2.0.0/16"])
    fake.add_vcn(prod, "deleted", ["10.9.0.0/16"], state="TERMINATED")
    # Another compartment's resources are not this compartment's.
    fake.add_instance(other, "elsewhere")
    fake.add_bucket(other, "theirs", approximate_size=GIB)
    fake.add_vcn(other, "theirs", ["10.50.0.0/16"])

    resources = read_live(prod, config, retry=FAST)

    assert old not in {r.id for r in resources}
    assert resources == [
        _live(
            "oci_core_instance",
            "cp",
            cp,
            {
                "shape": "VM.Standard.A1.Flex",
                "shape_config": [{"ocpus": 1.0, "memory_in_gbs": 6.0}],
                "display_name": "cp",
                "state": "RUNNING",
                "availability_domain": ad1,
            },
        ),
        _live(
            "oci_core_boot_volume",
            "cp-boot",
            cp_boot,
            {
                "size_in_gbs": "50",
                "vpus_per_gb": "10",
                "display_name": "cp-boot",
                "availability_domain": ad1,
                "state": "AVAILABLE",
                "attached_instance_id": cp,
            },
        ),
        _live(
            "oci_core_boot_volume",
            "old-boot",
            old_boot,
            {
                "size_in_gbs": "47",
                "vpus_per_gb": "10",
                "display_name": "old-boot",
                "availability_domain": ad1,
                "state": "AVAILABLE",
                "attached_instance_id": None,
            },
        ),
        _live(
            "oci_core_volume",
            "data",
            data,
            {
                "size_in_gbs": "50",
                "vpus_per_gb": "10",
                "display_name": "data",
                "availability_domain": ad2,
                "state": "AVAILABLE",
            },
        ),
        _live(
            "oci_core_boot_volume_backup",
            "cp-boot-backup",
            boot_backup,
            {
                "size_in_gbs": "50",
                "display_name": "cp-boot-backup",
                "type": "FULL",
                "state": "AVAILABLE",
            },
        ),
        _live(
            "oci_core_volume_backup",
            "data-backup",
            data_backup,
            {
                "size_in_gbs": "50",
                "display_name": "data-backup",
                "type": "FULL",
                "state": "AVAILABLE",
            },
        ),
        _live(
            "oci_objectstorage_bucket",
            "backups",
            backups,
            {
                "name": "backups",
                "namespace": fake.namespace,
                "approximate_size": 5 * GIB,
                "storage_tier": "Archive",
            },
        ),
        _live(
            "oci_objectstorage_bucket",
            "logs",
            logs,
            {
                "name": "logs",
                "namespace": fake.namespace,
                "approximate_size": GIB // 1024,
                "storage_tier": "Standard",
            },
        ),
        _live(
            "oci_core_public_ip",
            "ingress",
            ip,
            {
                "lifetime": "RESERVED",
                "ip_address": "192.0.2.7",
                "display_name": "ingress",
                "state": "AVAILABLE",
            },
        ),
        _live(
            "oci_load_balancer_load_balancer",
            "lb",
            lb,
            {
                "shape": "flexible",
                "shape_details": [
                    {"minimum_bandwidth_in_mbps": 10, "maximum_bandwidth_in_mbps": 10}
                ],
                "display_name": "lb",
                "state": "ACTIVE",
            },
        ),
        _live(
            "oci_network_load_balancer_network_load_balancer",
            "nlb",
            nlb,
            {"display_name": "nlb", "state": "ACTIVE"},
        ),
        _live(
            "oci_core_vcn",
            "lab",
            lab,
            {
                "cidr_blocks": ["10.1.0.0/16", "10.2.0.0/16"],
                "display_name": "lab",
                "state": "AVAILABLE",
            },
        ),
        _live(
            "oci_core_vcn",
            "main",
            main,
            {"cidr_blocks": ["10.0.0.0/16"], "display_name": "main", "state": "AVAILABLE"},
        ),
    ]

    # Three boot volumes in AD 1 and three VCNs at two per page: the second pages were read.
    for path in ("/20160918/bootVolumes", "/20160918/vcns"):
        pages = [r.query.get("page") for r in fake.seen(path) if r.query.get("compartmentId")]
        assert any(pages), f"{path} was not paginated"
    bucket_gets = [r for r in fake.seen(f"/n/{fake.namespace}/b/") if r.path.count("/") == 4]
    assert {r.query["fields"][0] for r in bucket_gets} == {"approximateSize"}


def test_every_client_uses_freetier_oci_endpoint(
    tenancy: FakeTenancy, config: dict[str, object]
) -> None:
    fake = tenancy.fake
    prod = fake.add_compartment()
    fake.add_bucket(prod, "b")

    read_live(prod, config, retry=FAST)

    seen = fake.seen()
    assert {r.key_id for r in seen} == {tenancy.credentials.key_id}
    assert all(r.status == 200 for r in seen)
    paths = {r.path for r in seen}
    assert {
        "/20160918/availabilityDomains",  # identity
        "/20160918/instances",  # compute
        "/20160918/bootVolumeAttachments",
        "/20160918/bootVolumes",  # block storage
        "/20160918/volumes",
        "/20160918/volumeBackups",
        "/20160918/bootVolumeBackups",
        "/20160918/publicIps",  # virtual network
        "/20160918/vcns",
        "/n",  # object storage
        f"/n/{fake.namespace}/b",
        f"/n/{fake.namespace}/b/b",
        "/20170115/loadBalancers",  # load balancing
        "/20200501/networkLoadBalancers",  # network load balancing
    } == paths


def test_a_429_is_retried_then_succeeds(tenancy: FakeTenancy, config: dict[str, object]) -> None:
    fake = tenancy.fake
    prod = fake.add_compartment()
    cp = fake.add_instance(prod, "cp")
    fake.inject("/20160918/instances", 429, "TooManyRequests", "Too many requests", times=1)

    resources = read_live(prod, config, retry=FAST)

    assert [r.id for r in resources] == [cp]
    assert [r.status for r in fake.seen("/20160918/instances")] == [429, 200]


def test_a_persistent_500_is_one_line_remote_error(
    tenancy: FakeTenancy, config: dict[str, object]
) -> None:
    fake = tenancy.fake
    prod = fake.add_compartment()
    fake.inject("/20170115/loadBalancers", 500, "InternalServerError", "Out of\ncoffee", times=None)

    with pytest.raises(RemoteError) as info:
        read_live(prod, config, retry=FAST)

    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("OCI LoadBalancerClient list_load_balancers: HTTP 500")
    assert "InternalServerError" in message and "Out of coffee" in message
    assert "opc-request-id" in message
    assert "Traceback" not in message
    pem = tenancy.credentials.key_pem.decode()
    assert "PRIVATE KEY" not in message
    assert not any(line in message for line in pem.splitlines()[1:-1])
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # Bounded: exactly max_attempts tries, then give up.
    assert [r.status for r in fake.seen("/20170115/loadBalancers")] == [500] * FAST.max_attempts


def test_other_4xx_are_not_retried(tenancy: FakeTenancy, config: dict[str, object]) -> None:
    fake = tenancy.fake
    prod = fake.add_compartment()
    # The SDK's default strategy retries 409 IncorrectState; ours retries only 429 and 5xx.
    fake.inject("/20160918/vcns", 409, "IncorrectState", times=None)

    with pytest.raises(RemoteError, match="HTTP 409 IncorrectState"):
        read_live(prod, config, retry=FAST)
    assert len(fake.seen("/20160918/vcns")) == 1


def test_an_unknown_compartment_is_not_authorized_or_not_found(
    tenancy: FakeTenancy, config: dict[str, object]
) -> None:
    with pytest.raises(RemoteError) as info:
        read_live("ocid1.compartment.oc1..aaaanotmine", config, retry=FAST)
    message = str(info.value)
    assert "HTTP 404 NotAuthorizedOrNotFound" in message
    assert "ComputeClient list_instances" in message
    assert "\n" not in message


def test_an_unreachable_endpoint_is_one_line(
    tenancy: FakeTenancy, config: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tenancy.fake.url
    tenancy.fake.stop()
    monkeypatch.setenv("FREETIER_OCI_ENDPOINT", url)
    with pytest.raises(RemoteError) as info:
        read_live("ocid1.compartment.oc1..aaaaprod", config, retry=FAST)
    message = str(info.value)
    assert message.startswith("OCI IdentityClient list_availability_domains: request to ")
    assert url in message and "\n" not in message


# --- credentials and clients -------------------------------------------------------------------


def test_config_file_and_profile_come_from_the_environment(tmp_path: Path) -> None:
    creds = write_oci_credentials(tmp_path)
    text = creds.config_file.read_text().replace("[DEFAULT]", "[ci]")
    creds.config_file.write_text(text)
    env = {"OCI_CLI_CONFIG_FILE": str(creds.config_file), "OCI_CLI_PROFILE": "ci"}

    config = load_oci_config(env, tmp_path)
    assert config["tenancy"] == creds.tenancy and config["fingerprint"] == creds.fingerprint

    with pytest.raises(ConfigError, match=r"\[DEFAULT\]: profile not found"):
        load_oci_config({"OCI_CLI_CONFIG_FILE": str(creds.config_file)}, tmp_path)
    with pytest.raises(ConfigError, match="OCI config file not found"):
        load_oci_config({}, tmp_path)  # ~/.oci/config under an empty home


def test_home_oci_config_is_the_default(tmp_path: Path) -> None:
    (tmp_path / ".oci").mkdir()
    creds = write_oci_credentials(tmp_path / ".oci")
    creds.config_file.rename(tmp_path / ".oci" / "config")
    assert load_oci_config({}, tmp_path)["user"] == creds.user


def test_invalid_config_names_fields_not_values(tmp_path: Path) -> None:
    creds = write_oci_credentials(tmp_path)
    text = creds.config_file.read_text()
    creds.config_file.write_text(text.replace(creds.fingerprint, "not-a-fingerprint"))
    env = {"OCI_CLI_CONFIG_FILE": str(creds.config_file)}
    with pytest.raises(ConfigError) as info:
        load_oci_config(env, tmp_path)
    assert "fingerprint malformed" in str(info.value)
    assert "not-a-fingerprint" not in str(info.value)


def test_unusable_keys_never_leak_their_contents(tmp_path: Path) -> None:
    creds = write_oci_credentials(tmp_path)
    config = load_oci_config({"OCI_CLI_CONFIG_FILE": str(creds.config_file)}, tmp_path)

    # A passphrase the unencrypted key does not need is tolerated by the SDK; an encrypted key
    # without its passphrase, or a file that is not a key, is a ConfigError naming the file.
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(creds.key_pem, None)
    secret = "correct horse battery staple"
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret.encode()),
    )
    creds.key_file.write_bytes(encrypted)
    with pytest.raises(ConfigError) as info:
        make_client(oci.core.ComputeClient, config)
    assert str(creds.key_file) in str(info.value) and "pass_phrase" in str(info.value)

    wrong = dict(config, pass_phrase="not the passphrase")
    with pytest.raises(ConfigError) as info:
        make_client(oci.core.ComputeClient, wrong)
    assert "not the passphrase" not in str(info.value)
    assert "BEGIN" not in str(info.value)

    creds.key_file.write_text("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ secret-ish\n")
    with pytest.raises(ConfigError) as info:
        make_client(oci.core.ComputeClient, config)
    assert "secret-ish" not in str(info.value) and "MIIE" not in str(info.value)


def test_endpoint_override_must_be_a_url() -> None:
    assert service_endpoint({}) is None
    assert service_endpoint({"FREETIER_OCI_ENDPOINT": "http://127.0.0.1:1/"}) == (
        "http://127.0.0.1:1"
    )
    with pytest.raises(ConfigError, match="FREETIER_OCI_ENDPOINT"):
        service_endpoint({"FREETIER_OCI_ENDPOINT": "127.0.0.1:8080"})
    with pytest.raises(ConfigError) as info:
        service_endpoint({"FREETIER_OCI_ENDPOINT": "https://me:hunter2@oci.example"})
    assert "hunter2" not in str(info.value)


def test_make_client_sets_the_endpoint_on_every_service(tmp_path: Path) -> None:
    creds = write_oci_credentials(tmp_path)
    config = load_oci_config({"OCI_CLI_CONFIG_FILE": str(creds.config_file)}, tmp_path)
    env = {"FREETIER_OCI_ENDPOINT": "https://oci.internal.example:8443"}
    for cls, suffix in [
        (oci.identity.IdentityClient, "/20160918"),
        (oci.core.ComputeClient, "/20160918"),
        (oci.object_storage.ObjectStorageClient, ""),
        (oci.load_balancer.LoadBalancerClient, "/20170115"),
        (oci.network_load_balancer.NetworkLoadBalancerClient, "/20200501"),
    ]:
        client = make_client(cls, config, env=env)
        assert client.base_client.endpoint == f"https://oci.internal.example:8443{suffix}"
    regional = make_client(oci.core.ComputeClient, config, env={})
    assert "iaas.eu-frankfurt-1." in regional.base_client.endpoint


# --- pure converters ---------------------------------------------------------------------------


def test_converters_skip_gone_resources_and_type_values_like_the_provider() -> None:
    models = oci.core.models
    terminating = models.Instance(id="i1", display_name="x", lifecycle_state="TERMINATING")
    assert instance_resource(terminating) is None
    micro = models.Instance(
        id="i2",
        display_name="bastion",
        lifecycle_state="STOPPED",
        shape="VM.Standard.E2.1.Micro",
        availability_domain="AD-1",
        shape_config=None,
    )
    converted = instance_resource(micro)
    assert converted is not None
    assert converted.values["shape_config"] == [] and converted.values["state"] == "STOPPED"

    detaching = [
        models.BootVolumeAttachment(
            boot_volume_id="b1", instance_id="i2", lifecycle_state="DETACHED"
        ),
        models.BootVolumeAttachment(
            boot_volume_id="b2", instance_id="i2", lifecycle_state="ATTACHED"
        ),
    ]
    assert attached_instances(detaching) == {"b2": "i2"}
    boot = models.BootVolume(
        id="b1", display_name=None, size_in_gbs=46.6, lifecycle_state="AVAILABLE"
    )
    volume = boot_volume_resource(boot, attached_instances(detaching))
    assert volume is not None
    assert volume.address == "live:oci_core_boot_volume.b1"  # no display name: the OCID
    assert volume.values["size_in_gbs"] == "46.6"
    assert volume.values["attached_instance_id"] is None

    fixed = oci.load_balancer.models.LoadBalancer(
        id="lb1", display_name="old", shape_name="10Mbps-Micro", lifecycle_state="ACTIVE"
    )
    assert load_balancer_resource(fixed) == _live(
        "oci_load_balancer_load_balancer",
        "old",
        "lb1",
        {"shape": "10Mbps-Micro", "shape_details": [], "display_name": "old", "state": "ACTIVE"},
    )
    legacy_vcn = models.Vcn(
        id="v1", display_name="v", cidr_block="10.0.0.0/16", lifecycle_state="AVAILABLE"
    )
    vcn = vcn_resource(legacy_vcn)
    assert vcn is not None and vcn.values["cidr_blocks"] == ["10.0.0.0/16"]


def test_same_display_names_are_told_apart_by_ocid() -> None:
    vcns = [
        oci.core.models.Vcn(id=f"v{i}", display_name="dup", cidr_blocks=["10.0.0.0/16"])
        for i in (2, 1)
    ]
    listing = LiveListing(vcns=[*vcns, vcns[0]])  # and one listed twice counts once
    assert [r.address for r in convert(listing)] == [
        "live:oci_core_vcn.v1",
        "live:oci_core_vcn.v2",
    ]
