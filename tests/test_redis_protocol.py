"""The Redis store writes its commands itself: the bytes must be redis-py's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from redis._parsers.encoders import Encoder
from redis.connection import PythonRespSerializer

from policy_service.state.redis_store import _packed

_REDIS_PY = PythonRespSerializer(
    buffer_cutoff=1 << 30, encode=Encoder("utf-8", "strict", False).encode
)

# A command's name, then any arguments (redis-py splits a name with spaces).
names = st.sampled_from(["EVALSHA", "SET", "SCRIPT", "GET"])
arguments = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.binary(max_size=40),
        st.integers(min_value=-(10**15), max_value=10**15),
    ),
    max_size=12,
)


@given(names, arguments)
def test_commands_are_packed_as_redis_py_packs_them(
    name: str, args: list[str | bytes | int]
) -> None:
    command = (name, *args)
    assert _packed(command) == b"".join(_REDIS_PY.pack(*command))


def test_a_decision_sized_argument() -> None:
    decision = ('{"event_id":"c-1","text":"é ✓ ' + "x" * 2000 + '"}').encode()
    args = ("SET", "pol:{acme}:ev:c-1", decision, "EX", 604800)
    assert _packed(args) == b"".join(_REDIS_PY.pack(*args))
