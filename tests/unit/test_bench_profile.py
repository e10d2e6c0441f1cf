"""The benchmark's profile by kind of work: what the analysis's limits are read from."""

from __future__ import annotations

from bench.profile import by_kind, kind_of

# Lines of a real py-spy raw profile of the in-process check-in (shortened stacks).
_ROOT = "<module> (spy.py:5);Runner.run (asyncio/runners.py:118)"
_LINES = [
    ([_ROOT, "DeviceBatch._flush (tenure/http/device_batch.py:76)",
      "DeviceGateway.handle_many (tenure/services/device_gateway.py:62)",
      "verify (tenure/services/device_auth.py:89)",
      "VerifyingKey.verify (tenure/crypto/keys.py:46)"], 30),
    ([_ROOT, "UnitOfWork.batch (tenure/store/uow.py:215)",
      "TransactionalContext.__exit__ (sqlalchemy/engine/util.py:146)",
      "DefaultDialect.do_commit (sqlalchemy/engine/default.py:711)"], 10),
    ([_ROOT, "CheckIn.__call__ (tenure/services/checkin.py:47)",
      "__create_fn__.<locals>.__init__ (<string>:4)"], 5),
    ([_ROOT, "parse_flattened (tenure/crypto/jws.py:115)",
      "read_json (tenure/domain/jsonread.py:88)", "loads (json/__init__.py:346)"], 4),
    ([_ROOT, "Connection.exec_driver_sql (sqlalchemy/engine/base.py:1770)"], 1),
    (["<module> (spy.py:5)", "_drive.<locals>.worker (bench/inprocess.py:73)"], 50),
]
RAW = "".join(f"{';'.join(frames)} {count}\n" for frames, count in _LINES)


def _stack(line: str) -> list[str]:
    return line.rpartition(" ")[0].split(";")


def test_time_in_c_counts_for_what_called_it_and_a_commit_is_the_drivers() -> None:
    lines = RAW.splitlines()
    assert kind_of(_stack(lines[0])).startswith("signatures")
    assert kind_of(_stack(lines[1])).startswith("database driver")
    assert kind_of(_stack(lines[4])) == "SQLAlchemy"


def test_a_generated_init_counts_for_the_rule_that_built_the_object() -> None:
    assert kind_of(_stack(RAW.splitlines()[2])).startswith("Tenure: device rules")


def test_shares_leave_out_the_load_generator_and_add_up() -> None:
    shares = dict(by_kind(RAW))
    assert round(sum(shares.values()), 6) == 100
    assert shares["signatures (verify and sign: the floor)"] == 60  # 30 of 50 server samples
    assert shares["JSON and base64"] == 8
    assert all("bench" not in kind for kind in shares)


def test_no_samples_no_shares() -> None:
    assert by_kind("") == []
