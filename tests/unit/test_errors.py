"""The one error tree and its two mappings: HTTP (problems.STATUS) and the CLI.

A new error class must get a deliberate status at the HTTP edge and a problem name
that the protocol module knows; PROTOCOL.md's `NNN name` pairs must be what the
server answers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import tenure.agent.device
import tenure.config
import tenure.crypto.jws
import tenure.crypto.keyring
import tenure.domain.policy
import tenure.geo.ip
import tenure.services.provision  # noqa: F401 - every module that names an error class
from tenure import protocol
from tenure.cli.main import failure, run
from tenure.domain import errors as e
from tenure.http import connections
from tenure.http.problems import STATUS, from_error, status_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def tree() -> list[type[e.TenureError]]:
    found: list[type[e.TenureError]] = []
    pending = [e.TenureError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.append(sub)
                pending.append(sub)
    return found


def concrete() -> list[type[e.TenureError]]:
    return [cls for cls in tree() if cls.code]


def test_the_tree_holds_every_error_of_every_layer() -> None:
    classes = set(tree())
    for cls in (tenure.config.ConfigError, tenure.crypto.keyring.KeyRingError,
                tenure.crypto.jws.JWSError, tenure.geo.ip.GeoDataError,
                tenure.services.provision.ImportAborted, tenure.domain.policy.PolicyError):
        assert cls in classes, cls
    assert issubclass(tenure.config.ConfigError, e.OperatorError)
    assert issubclass(tenure.crypto.jws.JWSError, ValueError)  # older callers catch that


def test_every_class_that_names_a_problem_has_its_own_status_row() -> None:
    missing = [cls.__name__ for cls in tree() if "code" in vars(cls) and cls not in STATUS]
    assert not missing, f"no HTTP status chosen for {missing}"


def test_every_concrete_error_maps_to_a_status() -> None:
    for cls in concrete():
        status = status_of(cls)
        assert status is not None and 400 <= status <= 599, cls


# The one name the contract tells at two statuses: a device request from an unknown
# device is `401 unknown-device`, the buyer's status check of one `404 unknown-device`.
SHARED_NAMES = {"unknown-device": {e.UnknownDevice, e.DeviceNotFound}}


def test_problem_names_are_the_protocol_modules_names() -> None:
    unknown = {cls.code for cls in concrete()} - protocol.PROBLEMS
    assert not unknown, f"problem names protocol.py does not know: {unknown}"
    named: dict[str, set[type[e.TenureError]]] = {}
    for cls in concrete():
        if "code" in vars(cls):
            named.setdefault(cls.code, set()).add(cls)
    shared = {name: classes for name, classes in named.items() if len(classes) > 1}
    assert shared == SHARED_NAMES, "two classes share a name"


def test_a_shared_name_is_told_at_different_statuses() -> None:
    for classes in SHARED_NAMES.values():
        statuses = [status_of(cls) for cls in classes]
        assert len(set(statuses)) == len(statuses), statuses


def test_protocol_md_status_and_name_pairs_are_what_the_server_answers() -> None:
    pairs = set(re.findall(r"`([45]\d\d) ([a-z][a-z-]*[a-z])`", DOCS.read_text()))
    assert len(pairs) >= 15, "docs/protocol.md no longer lists its problems as `NNN name`"
    answers: dict[str, set[int | None]] = {}
    for cls in concrete():
        answers.setdefault(cls.code, set()).add(status_of(cls))
    # the two the HTTP edge answers by itself: routing, and anything unexpected
    answers.update({protocol.METHOD_NOT_ALLOWED: {405}, protocol.PROBLEM_INTERNAL: {500}})
    # and what `tenure serve`'s connection layer answers before the app sees a request
    answers.update({name: {status} for name, status in connections.STATUS.items()})
    for status, name in sorted(pairs):
        assert name in answers, f"PROTOCOL.md names {status} {name}; the server never does"
        assert int(status) in answers[name], (name, answers[name])


def test_protocol_md_problem_names_are_in_the_protocol_module() -> None:
    names = set(re.findall(r"`[45]\d\d ([a-z][a-z-]*[a-z])`", DOCS.read_text()))
    assert names <= protocol.PROBLEMS, names - protocol.PROBLEMS


@pytest.mark.parametrize("family", [e.TenureError, e.RequestError, e.DeviceAuthError,
                                    e.AuthError, e.Refused, e.Conflict, e.RateLimited,
                                    e.OperatorError])
def test_a_family_cannot_be_raised_as_such(family: type[e.TenureError]) -> None:
    with pytest.raises(TypeError, match="family"):
        family("what went wrong?")


def test_a_problem_document_carries_name_status_detail_and_extensions() -> None:
    response = from_error(e.UnlockNotPermitted("Wait for the binding age.", retry_after=99))
    body = json.loads(bytes(response.body))
    assert response.status_code == 403
    assert response.media_type == protocol.PROBLEM_JSON
    assert body == {"type": "urn:tenure:problem:unlock-not-permitted",
                    "title": "Unlock not permitted", "status": 403,
                    "detail": "Wait for the binding age.", "retry_after": 99}


def test_rate_limits_answer_with_retry_after_in_whole_seconds() -> None:
    response = from_error(e.TooManyAttempts("Slow down.", retry_after=2.2))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert "retry_after" not in json.loads(bytes(response.body))


def test_a_saturated_server_says_so_with_retry_after_not_as_an_internal_error() -> None:
    response = from_error(e.Overloaded("Busy checking passwords.", retry_after=1))
    body = json.loads(bytes(response.body))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert body["type"] == "urn:tenure:problem:overloaded" and "retry_after" not in body


def test_the_servers_own_setup_errors_are_not_told_to_clients() -> None:
    response = from_error(e.KeyRingError("/srv/keys/ring.json is readable by others"))
    body = json.loads(bytes(response.body))
    assert response.status_code == 500
    assert body["type"] == "urn:tenure:problem:internal"
    assert "/srv/keys" not in body["detail"]


def test_operator_input_over_the_admin_api_is_422_with_its_problems() -> None:
    response = from_error(e.PolicyError(["line 3: unknown key 'modle'"]))
    body = json.loads(bytes(response.body))
    assert response.status_code == 422
    assert body["type"] == "urn:tenure:problem:invalid-policy"
    assert body["problems"] == ["line 3: unknown key 'modle'"]


# -- the CLI ------------------------------------------------------------------------------

def test_cli_tells_an_error_in_one_line_with_a_nonzero_exit(
        capsys: pytest.CaptureFixture[str]) -> None:
    def command(_: object) -> int:
        raise tenure.config.ConfigError("TENURE_UNLOCK_QUOTA must be a number,\ngot 'x'")

    assert run(command, None) == 1  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert err == "tenure: error: TENURE_UNLOCK_QUOTA must be a number, got 'x'\n"


def test_cli_exit_codes_of_the_device_agent() -> None:
    refused = tenure.agent.device.RecordRejected("the record has expired")
    assert failure(refused) == (3, "answer refused, previous state kept: the record has expired")
    problem = tenure.agent.device.ProtocolError(
        409, {"type": "urn:tenure:problem:already-bound", "detail": "Bound to another."})
    assert failure(problem) == (1, "server refused: 409 already-bound: Bound to another.")
    assert failure(FileNotFoundError("no device in ./x")) == (1, "no device in ./x")


def test_cli_leaves_bugs_as_tracebacks() -> None:
    def command(_: object) -> int:
        raise ZeroDivisionError

    assert failure(ZeroDivisionError()) is None
    with pytest.raises(ZeroDivisionError):
        run(command, None)  # type: ignore[arg-type]
