"""The older package's exception constructors and helpers work on this package's classes
(``synapse.clients.exceptions``), and the richer fields stay."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synapse.clients import exceptions as old
from synapse.errors import error_for_status

FIXED = [
    (old.AuthenticationError, 401),
    (old.AuthorizationError, 403),
    (old.NotFoundError, 404),
    (old.RateLimitError, 429),
    (old.ClientTimeoutError, 408),
    (old.ValidationError, 400),
    (old.ServerError, 500),
    (old.GpuUnavailableError, 503),
]


def test_the_old_keyword_and_positional_forms() -> None:
    error = old.ClientError(status_code=500, detail="Server error")
    assert (error.status_code, error.detail, str(error)) == (
        500,
        "Server error",
        "500: Server error",
    )
    assert str(old.ClientError(400, "Bad request")) == "400: Bad request"
    assert str(old.ClientError()) == ""
    assert old.ClientError().status_code is None
    assert str(old.ClientError(detail="only text")) == "only text"
    assert "404" in str(old.ClientError(status_code=404, detail=None))
    assert old.ServerError(502, "Bad gateway").status_code == 502
    assert old.ValidationError(status_code=422, detail="x").status_code == 422
    connection = old.ClientConnectionError("refused")
    assert (connection.status_code, connection.detail) == (None, "refused")
    assert repr(old.ClientError(403, "Forbidden")) == (
        "ClientError(status_code=403, detail='Forbidden')"
    )


@pytest.mark.parametrize(("cls", "status"), FIXED)
def test_each_class_carries_its_status(cls: type[old.ClientError], status: int) -> None:
    error = cls(detail="why")
    assert (error.status_code, error.detail, str(error)) == (status, "why", f"{status}: why")
    assert isinstance(error, old.ClientError)


@given(
    status=st.integers(400, 599),
    detail=st.one_of(
        st.none(), st.text(max_size=20), st.dictionaries(st.text(max_size=5), st.integers())
    ),
)
def test_raise_for_status_maps_like_the_transport(status: int, detail: object) -> None:
    with pytest.raises(old.HTTPError) as caught:
        old.raise_for_status(status, detail)
    expected = type(error_for_status(status, detail))
    assert type(caught.value) is expected
    assert caught.value.status_code == status
    assert caught.value.detail == detail
    if detail is not None:
        assert str(detail) in str(caught.value)


@given(st.integers(100, 399))
def test_raise_for_status_lets_success_pass(status: int) -> None:
    old.raise_for_status(status, "fine")


def test_gpu_unavailable_is_a_sibling_of_server_error() -> None:
    detail = {"error_type": "gpu_unavailable", "message": "no GPU", "queue": 3}
    error = error_for_status(503, detail)
    assert type(error) is old.GpuUnavailableError
    assert not isinstance(error, old.ServerError)
    assert error.error_details == {"queue": 3}
    assert type(error_for_status(503, {"detail": "down"})) is old.ServerError


def test_stream_errors_are_client_errors() -> None:
    assert issubclass(old.StreamLimitExceededError, old.StreamError)
    assert issubclass(old.WebSocketError, old.StreamError)
    assert issubclass(old.StreamError, old.ClientError)


def test_the_sdk_form_keeps_its_fields_and_pickles() -> None:
    error = error_for_status(
        404, {"detail": "gone"}, method="GET", url="https://h/tasks/1/", request_id="r-1"
    )
    assert str(error) == "404 GET https://h/tasks/1/: gone (request id r-1)"
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.request_id) == (old.NotFoundError, str(error), "r-1")
    limited = old.RateLimitError("slow down", retry_after=2.0)
    assert (limited.status_code, limited.retry_after) == (429, 2.0)


def test_bad_constructor_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        old.ClientError(500, "a", "b")
    with pytest.raises(TypeError):
        old.ClientError(500, status_code=501)
