"""A CSV file's encoding is checked a chunk at a time: the same answers and errors as decoding it whole."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanlearn.data import sources
from leanlearn.data.sources import _checked_text, _decode, read_table
from leanlearn.errors import DataError

PATH = Path("line.csv")
# pieces a machine export is made of, and the ways it goes wrong: ASCII, multi-byte UTF-8 (split across chunks
# when the chunks are small), a Latin-1 byte, a lone continuation byte, a truncated sequence, a byte-order mark
PIECES = [b"a", b",", b"\n", b" ", b"\t", b"1.5", "Müller".encode(), "°C".encode(), "€".encode(), b"\xfc", b"\x80",
          b"\xe2\x82", b"\xef\xbb\xbf", "\u2003".encode()]


def _whole(data: bytes, encoding: str | None) -> tuple[str, bool] | str:
    """What decoding the file at once says: its beginning and whether it has content, or the error."""
    try:
        text = _decode(PATH, data, encoding)
    except DataError as exc:
        return str(exc)
    return text[: 4 * sources._SNIFF_BYTES], bool(text.strip())


def _chunked(data: bytes, encoding: str | None, size: int) -> tuple[str, bool] | str:
    try:
        return _checked_text(PATH, (data[at : at + size] for at in range(0, len(data), size)), encoding)
    except DataError as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.integers(1, 9),
       st.sampled_from([None, "utf-8", "utf-8-sig", "latin-1", "cp1252", "shift_jis", "utf-16"]))
def test_chunked_check_says_what_decoding_the_whole_file_says(pieces, size, encoding):
    data = b"".join(pieces)
    assert _chunked(data, encoding, size) == _whole(data, encoding)


def test_a_bad_byte_far_into_the_file_is_named_by_offset_and_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_CHUNK_BYTES", 64)
    body = b"press,scrap\n" + b"P1,0\n" * 200
    path = tmp_path / "runs.csv"
    path.write_bytes(body + "Müller,1\n".encode("latin-1"))
    with pytest.raises(DataError) as caught:
        read_table(path)
    message = str(caught.value)
    assert f"offset {len(body) + 1}" in message and "line 202" in message and "0xfc" in message


def test_a_multibyte_character_split_by_a_chunk_boundary_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_CHUNK_BYTES", 7)
    path = tmp_path / "runs.csv"
    path.write_bytes("\ufeffname,scrap\nMüller,1\n°C €,2\n".encode())
    frame = read_table(path)
    assert frame.columns.tolist() == ["name", "scrap"] and frame["name"].tolist() == ["Müller", "°C €"]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_white_space_only_is_an_empty_file(tmp_path, monkeypatch, gz):
    monkeypatch.setattr(sources, "_CHUNK_BYTES", 3)
    data = b" \n\t\n  \r\n" * 5
    path = tmp_path / ("blank.csv.gz" if gz else "blank.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError, match="the file is empty"):
        read_table(path)


def test_a_file_that_grows_past_the_byte_limit_while_read_is_refused(tmp_path, monkeypatch):
    from leanlearn.limits import Limits

    monkeypatch.setattr(sources, "_CHUNK_BYTES", 16)
    path = tmp_path / "runs.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 100)
    with pytest.raises(DataError, match="max_bytes"):
        list(sources._file_chunks(path, Limits(max_bytes=100)))  # as if the file had grown past it
    assert read_table(path, limits=Limits(max_bytes=404)).shape == (100, 2)
