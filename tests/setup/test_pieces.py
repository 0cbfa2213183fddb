"""init's pure parts: stack.yaml edited with its comments kept, the derived texts, the doctests;
and the fakes' new endpoints as the real clients see them."""

from __future__ import annotations

import base64
import doctest
from pathlib import Path

import oci
import pytest
from github import Auth, Github
from github.GithubException import GithubException
from nacl.public import PrivateKey, SealedBox

from freetier.errors import ConfigError
from freetier.setup import model
from freetier.setup.model import StackAnswers
from freetier.setup.stack_edit import apply_answers
from freetier.tenancy import region_subscriptions
from tests.conftest import SHIPPED_STACK
from tests.fakes.github_server import FakeGitHub
from tests.fakes.oci_server import FakeOci, write_oci_credentials

PATH = Path("stack.yaml")


def test_doctests() -> None:
    assert doctest.testmod(model).failed == 0


def test_no_answer_returns_the_text_unchanged() -> None:
    text = SHIPPED_STACK.read_text()
    assert apply_answers(text, PATH, StackAnswers()) is text
    assert apply_answers(text, PATH, StackAnswers(region="uk-london-1")) is text


def test_answers_change_only_their_values_and_keep_every_comment() -> None:
    text = (
        "# head\nname: lab  # the name\noci:\n  region: 'uk-london-1'  # home\nnetwork:\n"
        "  admin_cidrs:\n    - 10.0.0.1/32  # mine\n\n# next block\nflux: {repo_url: x}\n"
    )
    answers = StackAnswers(
        region="eu-frankfurt-1", admin_cidrs=("10.0.0.1/32", "10.0.0.2/32"), name="lab"
    )
    assert apply_answers(text, PATH, answers) == (
        # A quoted value stays quoted, as the user wrote it.
        "# head\nname: lab  # the name\noci:\n  region: 'eu-frankfurt-1' # home\nnetwork:\n"
        "  admin_cidrs:\n    - 10.0.0.1/32\n    - 10.0.0.2/32  # mine\n\n# next block\n"
        "flux: {repo_url: x}\n"
    )


def test_an_answer_for_a_field_under_a_scalar_is_bad_input() -> None:
    with pytest.raises(ConfigError) as caught:
        apply_answers("name: lab\noci: 3\n", PATH, StackAnswers(region="eu-frankfurt-1"))
    assert caught.value.problems == ("stack.yaml: oci: expected a mapping to set region in",)


def test_ci_oci_config_carries_the_pass_phrase_when_there_is_one() -> None:
    config = {"user": "u", "fingerprint": "f", "tenancy": "t", "region": "r", "pass_phrase": "p"}
    assert model.ci_oci_config(config).endswith("key_file=~/.oci/key.pem\npass_phrase=p\n")


def test_the_environment_table_matches_the_readme() -> None:
    readme = (SHIPPED_STACK.parent / "README.md").read_text()
    for environment in model.ENVIRONMENT_SECRETS:
        assert f"| `{environment}` |" in readme
    for name in model.needed_secrets(list(model.ENVIRONMENT_SECRETS)):
        assert f"`{name}`" in readme


# --- the fakes -------------------------------------------------------------------------------


def test_region_subscriptions_through_the_sdk(tmp_path: Path) -> None:
    credentials = write_oci_credentials(tmp_path)
    fake = FakeOci(credentials.tenancy, region="eu-frankfurt-1")
    fake.authorize_key(credentials.key_id, credentials.public_key)
    fake.subscribe_region("uk-london-1", home=True)
    config = oci.config.from_file(str(credentials.config_file))
    with fake.serve():
        found = region_subscriptions(config, env={"FREETIER_OCI_ENDPOINT": fake.url})
        assert [(s.name, s.key, s.home, s.status) for s in found] == [
            ("eu-frankfurt-1", "FRA", False, "READY"),
            ("uk-london-1", "LHR", True, "READY"),
        ]
        client = oci.identity.IdentityClient(config, service_endpoint=fake.url)
        with pytest.raises(oci.exceptions.ServiceError) as caught:
            client.list_region_subscriptions("ocid1.tenancy.oc1..someoneelse")
        assert caught.value.status == 404


def test_secrets_are_sealed_to_each_key_and_never_shown_back() -> None:
    github = FakeGitHub("t0ken")
    repo = github.add_repo("octo/infra")
    with github.serve():
        client = Github(
            auth=Auth.Token("t0ken"),
            base_url=github.url,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        remote = client.get_repo("octo/infra")
        remote.create_environment("plan")
        environment = remote.get_environment("plan")
        environment.create_secret("oci_key", "first")
        environment.create_secret("OCI_KEY", "second")
        statuses = [r.status for r in github.seen("PUT", "/repos/octo/infra/environments/plan/")]
        assert statuses == [201, 204]  # created, then updated
        assert github.secret_value(repo, "OCI_KEY", "plan") == "second"
        assert [s.name for s in environment.get_secrets()] == ["OCI_KEY"]
        # Sealed to the environment's key, not the repository's.
        stored = github.environment(repo, "plan").store.secrets["OCI_KEY"].encrypted_value
        with pytest.raises(Exception):  # noqa: B017 - nacl's CryptoError
            SealedBox(github._repo_store(repo).private_key).decrypt(base64.b64decode(stored))
        # A value sealed to another key, or a name GitHub refuses, is a 422.
        other = SealedBox(PrivateKey.generate().public_key).encrypt(b"x")
        key_id = environment.get_public_key().key_id
        put = f"{github.url}/repos/octo/infra/environments/plan/secrets/"
        for name, body in (
            ("X", {"encrypted_value": base64.b64encode(other).decode(), "key_id": key_id}),
            ("GITHUB_X", {"encrypted_value": stored, "key_id": key_id}),
            ("X", {"encrypted_value": stored, "key_id": "1"}),
        ):
            with pytest.raises(GithubException) as caught:
                client.requester.requestJsonAndCheck("PUT", put + name, input=body)
            assert caught.value.status == 422
