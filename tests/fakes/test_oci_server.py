"""The fake OCI server's own rules, driven by the real oci SDK (and by bare HTTP where the SDK
would never send the request: unsigned, stale, forged)."""

from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import pytest
import requests

from freetier.oci_clients import RetryPolicy, load_oci_config, make_client
from tests.fakes.oci_server import FakeTenancy, fake_tenancy, write_oci_credentials

NO_RETRY = RetryPolicy(max_attempts=1)


@pytest.fixture
def tenancy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTenancy]:
    with fake_tenancy(tmp_path, monkeypatch.setenv, page_size=2) as running:
        yield running


def _client(tenancy: FakeTenancy, cls: Any, home: Path) -> Any:
    return make_client(cls, load_oci_config(tenancy.env, home), retry=NO_RETRY)


def _raw(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - http to 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.load(exc)


def test_pages_follow_opc_next_page_until_the_last(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    names = [f"vcn-{i}" for i in range(5)]
    for i, name in enumerate(names):
        fake.add_vcn(compartment, name, [f"10.{i}.0.0/16"])
    network = _client(tenancy, oci.core.VirtualNetworkClient, tmp_path)

    first = network.list_vcns(compartment)
    assert [v.display_name for v in first.data] == names[:2]
    assert first.has_next_page
    second = network.list_vcns(compartment, page=first.next_page)
    assert [v.display_name for v in second.data] == names[2:4]
    last = network.list_vcns(compartment, page=second.next_page)
    assert [v.display_name for v in last.data] == names[4:]
    assert not last.has_next_page
    assert [v.cidr_blocks for v in last.data] == [["10.4.0.0/16"]]

    one = network.list_vcns(compartment, limit=1)
    assert len(one.data) == 1 and one.has_next_page

    every = oci.pagination.list_call_get_all_results(network.list_vcns, compartment)
    assert [v.display_name for v in every.data] == names


def test_bad_page_token_and_limit_are_400(tenancy: FakeTenancy, tmp_path: Path) -> None:
    compartment = tenancy.fake.add_compartment()
    network = _client(tenancy, oci.core.VirtualNetworkClient, tmp_path)
    for kwargs in ({"page": "not-a-token"}, {"limit": 0}, {"limit": 5000}):
        with pytest.raises(oci.exceptions.ServiceError) as info:
            network.list_vcns(compartment, **kwargs)
        assert (info.value.status, info.value.code) == (400, "InvalidParameter")


def test_nlb_list_is_a_collection_object(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    for name in ("a", "b", "c"):
        fake.add_network_load_balancer(compartment, name)
    nlbs = _client(tenancy, oci.network_load_balancer.NetworkLoadBalancerClient, tmp_path)

    page = nlbs.list_network_load_balancers(compartment)
    assert isinstance(page.data, oci.network_load_balancer.models.NetworkLoadBalancerCollection)
    assert [n.display_name for n in page.data.items] == ["a", "b"]
    every = oci.pagination.list_call_get_all_results(nlbs.list_network_load_balancers, compartment)
    assert [n.display_name for n in every.data] == ["a", "b", "c"]


def test_lists_are_filtered_by_compartment(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    mine, other = fake.add_compartment(), fake.add_compartment()
    fake.add_instance(mine, "mine")
    fake.add_instance(other, "theirs")
    compute = _client(tenancy, oci.core.ComputeClient, tmp_path)

    assert [i.display_name for i in compute.list_instances(mine).data] == ["mine"]
    assert [i.display_name for i in compute.list_instances(other).data] == ["theirs"]
    with pytest.raises(oci.exceptions.ServiceError) as info:
        compute.list_instances("ocid1.compartment.oc1..unknown")
    assert (info.value.status, info.value.code) == (404, "NotAuthorizedOrNotFound")


def test_boot_volume_attachments_need_an_availability_domain(
    tenancy: FakeTenancy, tmp_path: Path
) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    instance = fake.add_instance(compartment, "cp")
    volume = fake.add_boot_volume(compartment, "cp boot", attached_to=instance)
    compute = _client(tenancy, oci.core.ComputeClient, tmp_path)

    ad1, ad2 = fake.availability_domains
    attachments = compute.list_boot_volume_attachments(ad1, compartment).data
    assert [(a.boot_volume_id, a.instance_id) for a in attachments] == [(volume, instance)]
    assert compute.list_boot_volume_attachments(ad2, compartment).data == []


def test_public_ips_filter_on_scope_and_lifetime(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    fake.add_public_ip(compartment, "192.0.2.1", display_name="reserved")
    fake.add_public_ip(compartment, "192.0.2.2", display_name="eph", lifetime="EPHEMERAL")
    network = _client(tenancy, oci.core.VirtualNetworkClient, tmp_path)

    reserved = network.list_public_ips("REGION", compartment, lifetime="RESERVED").data
    assert [(ip.display_name, ip.lifetime) for ip in reserved] == [("reserved", "RESERVED")]
    ad = fake.availability_domains[0]
    ephemeral = network.list_public_ips(
        "AVAILABILITY_DOMAIN", compartment, availability_domain=ad
    ).data
    assert [ip.ip_address for ip in ephemeral] == ["192.0.2.2"]


def test_bucket_sizes_only_when_asked(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    fake.add_bucket(compartment, "logs", approximate_size=1234)
    objects = _client(tenancy, oci.object_storage.ObjectStorageClient, tmp_path)

    namespace = objects.get_namespace().data
    assert namespace == fake.namespace
    assert [b.name for b in objects.list_buckets(namespace, compartment).data] == ["logs"]
    assert objects.get_bucket(namespace, "logs").data.approximate_size is None
    sized = objects.get_bucket(namespace, "logs", fields=["approximateSize"]).data
    assert sized.approximate_size == 1234
    with pytest.raises(oci.exceptions.ServiceError) as info:
        objects.get_bucket(namespace, "nope")
    assert (info.value.status, info.value.code) == (404, "BucketNotFound")


def test_unsigned_requests_are_refused(tenancy: FakeTenancy) -> None:
    compartment = tenancy.fake.add_compartment()
    status, headers, body = _raw(f"{tenancy.fake.url}/20160918/vcns?compartmentId={compartment}")
    assert status == 401
    assert body["code"] == "NotAuthenticated"
    assert headers.get("opc-request-id")
    assert tenancy.fake.requests[-1].key_id is None


def test_unknown_key_and_forged_signature_are_refused(tenancy: FakeTenancy, tmp_path: Path) -> None:
    compartment = tenancy.fake.add_compartment()
    (tmp_path / "stranger").mkdir()
    stranger = write_oci_credentials(tmp_path / "stranger")
    config = load_oci_config({"OCI_CLI_CONFIG_FILE": str(stranger.config_file)}, tmp_path)
    network = make_client(oci.core.VirtualNetworkClient, config, retry=NO_RETRY)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        network.list_vcns(compartment)
    assert (info.value.status, info.value.code) == (401, "NotAuthenticated")

    # The right keyId, signed with another key: the signature does not verify.
    forged = dict(
        config, user=tenancy.credentials.user, fingerprint=tenancy.credentials.fingerprint
    )
    network = make_client(oci.core.VirtualNetworkClient, forged, retry=NO_RETRY)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        network.list_vcns(compartment)
    assert (info.value.status, info.value.code) == (401, "NotAuthenticated")
    assert "signature" in info.value.message


def test_stale_date_is_refused(tenancy: FakeTenancy) -> None:
    compartment = tenancy.fake.add_compartment()
    creds = tenancy.credentials
    signer = oci.signer.Signer(creds.tenancy, creds.user, creds.fingerprint, str(creds.key_file))
    url = f"{tenancy.fake.url}/20160918/vcns?compartmentId={compartment}"
    fresh = requests.get(url, auth=signer, timeout=5)
    assert fresh.status_code == 200, fresh.text
    stale_date = email.utils.formatdate(time.time() - 3600, usegmt=True)
    stale = requests.get(url, auth=signer, headers={"date": stale_date}, timeout=5)
    assert stale.status_code == 401
    assert stale.json()["code"] == "NotAuthenticated"


def test_injected_faults_then_recovery(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    fake.add_vcn(compartment, "v", ["10.0.0.0/16"])
    fake.inject("/20160918/vcns", 429, "TooManyRequests", times=2)
    network = _client(tenancy, oci.core.VirtualNetworkClient, tmp_path)

    for _ in range(2):
        with pytest.raises(oci.exceptions.ServiceError) as info:
            network.list_vcns(compartment)
        assert (info.value.status, info.value.code) == (429, "TooManyRequests")
    assert [v.display_name for v in network.list_vcns(compartment).data] == ["v"]
    assert [r.status for r in fake.seen("/20160918/vcns")] == [429, 429, 200]


def test_unknown_paths_are_404(tenancy: FakeTenancy, tmp_path: Path) -> None:
    creds = tenancy.credentials
    signer = oci.signer.Signer(creds.tenancy, creds.user, creds.fingerprint, str(creds.key_file))
    response = requests.get(f"{tenancy.fake.url}/20160918/nothing", auth=signer, timeout=5)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"
