"""Properties of URL building: no id can leave its resource, joining is exact."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from synapse import InvalidInputError
from synapse.config import masked_query
from synapse.urls import build_path, join_url

ids = st.one_of(
    st.integers(min_value=0),
    st.text(min_size=0, max_size=30),
    st.sampled_from(["..", ".", "../admin", "a/../../b", "%2e%2e", "%2F", "a b", "@", "x@1.0"]),
)
bases = st.sampled_from(
    ["https://api.synapse.test", "https://api.synapse.test/", "http://127.0.0.1:8000/api/v1"]
)


@given(base=bases, pk=ids)
def test_no_id_produces_a_url_outside_its_resource(base: str, pk: int | str) -> None:
    try:
        path = build_path("tasks/{}/annotate_task_data/", pk)
    except InvalidInputError:
        return
    url = join_url(base, path)
    parts = urlsplit(url)
    prefix = urlsplit(base).path.rstrip("/") + "/tasks/"
    # What a server sees after decoding and normalizing the path:
    decoded = unquote(parts.path)
    assert posixpath.normpath(parts.path) + "/" == parts.path
    assert parts.path.startswith(prefix)
    assert parts.path.endswith("/annotate_task_data/")
    segment = parts.path[len(prefix) : -len("/annotate_task_data/")]
    assert "/" not in segment
    assert segment not in ("", ".", "..")
    assert unquote(segment) == str(pk)
    assert not parts.query
    assert not parts.fragment
    assert decoded.count("/") == parts.path.count("/")


@given(
    base=bases,
    path=st.lists(st.text("abcxyz_-0123456789", min_size=1, max_size=8), min_size=1, max_size=4),
    lead=st.booleans(),
)
def test_join_url_is_base_plus_exactly_one_slash(base: str, path: list[str], lead: bool) -> None:
    relative = ("/" if lead else "") + "/".join(path) + "/"
    url = join_url(base, relative)
    assert url == base.rstrip("/") + "/" + "/".join(path) + "/"
    assert "//" not in url.split("://", 1)[1]


@given(url=st.sampled_from(["https://other.test/x/?page=2", "http://h.test/a/b/?c=d"]), b=bases)
def test_absolute_urls_are_used_verbatim(url: str, b: str) -> None:
    assert join_url(b, url) == url


names = st.sampled_from(["X-Amz-Signature", "x-goog-credential", "sig", "token", "project",
                         "page", "X-Amz-Date", "search", "access_token"])  # fmt: skip
values = st.text(alphabet="abcdefXYZ0123456789-_.~%", min_size=1, max_size=12)


@given(pairs=st.lists(st.tuples(names, values), max_size=6))
def test_a_masked_url_keeps_what_filters_and_hides_what_signs(
    pairs: list[tuple[str, str]],
) -> None:
    url = "https://api.synapse.test/media/f.bin?" + "&".join(f"{n}={v}" for n, v in pairs)
    masked = urlsplit(masked_query(url))
    assert masked.path == "/media/f.bin"
    shown = [p.partition("=") for p in masked.query.split("&")] if pairs else []
    assert [name for name, _, _ in shown] == [name for name, _ in pairs]
    secret = {"X-Amz-Signature", "x-goog-credential", "sig", "token", "access_token"}
    for (name, _, value), (_, sent) in zip(shown, pairs, strict=True):
        assert value == ("***" if name in secret else sent)
