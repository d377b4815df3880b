"""read_table: every table format read right, every user mistake a DataError naming the file and the fix."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from leanlearn.data.sources import read_table, sniff_delimiter, table_format, write_table
from leanlearn.errors import DataError, LeanlearnError

ROWS = "press,humidity,scrap\nP1,61.5,0\nP3,72.0,1\n"


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def test_comma_csv_is_read_with_numeric_columns(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path / "runs.csv", ROWS))
    assert list(frame.columns) == ["press", "humidity", "scrap"]
    assert frame["humidity"].tolist() == [61.5, 72.0]
    assert frame["scrap"].tolist() == [0, 1]


def test_semicolon_delimited_csv_is_read_correctly(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path / "runs.csv", "press;humidity;scrap\nP1;61.5;0\nP3;72.0;1\n"))
    assert list(frame.columns) == ["press", "humidity", "scrap"]
    assert frame["humidity"].tolist() == [61.5, 72.0]


def test_semicolon_csv_with_decimal_commas_gives_numbers(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path / "runs.csv", "press;humidity;scrap\nP1;61,5;0\nP3;72;1\n"))
    assert frame["humidity"].tolist() == [61.5, 72.0]
    assert frame["press"].tolist() == ["P1", "P3"]


@pytest.mark.parametrize("delimiter", ["\t", "|"])
def test_tab_and_pipe_delimiters_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    frame = read_table(_write(tmp_path / "runs.csv", ROWS.replace(",", delimiter)))
    assert list(frame.columns) == ["press", "humidity", "scrap"]
    assert len(frame) == 2


def test_comma_inside_quotes_does_not_fool_the_sniffer() -> None:
    assert sniff_delimiter('id,comment\n1,"ok; fine"\n2,"a; b; c"\n') == ","


def test_utf8_bom_is_dropped_from_the_first_column_name(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path / "runs.csv", b"\xef\xbb\xbf" + ROWS.encode()))
    assert frame.columns[0] == "press"


def test_non_utf8_bytes_raise_data_error_naming_file_offset_and_encoding_fix(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin.csv", b"name,scrap\nok,0\n" + "Müller,1\n".encode("latin-1"))
    with pytest.raises(DataError) as caught:
        read_table(path)
    message = str(caught.value)
    assert str(path) in message
    assert "0xfc" in message and "offset 17" in message and "line 3" in message
    assert "encoding" in message


def test_declared_encoding_reads_a_non_utf8_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin.csv", "name,scrap\nMüller,1\n".encode("latin-1"))
    assert read_table(path, encoding="latin-1")["name"].tolist() == ["Müller"]


def test_unknown_declared_encoding_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        read_table(_write(tmp_path / "runs.csv", ROWS), encoding="klingon")


def test_missing_file_is_a_data_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nothing.csv"
    with pytest.raises(DataError, match="no such file") as caught:
        read_table(path)
    assert str(path) in str(caught.value)


def test_directory_instead_of_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)


def test_empty_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        read_table(_write(tmp_path / "empty.csv", ""))


def test_whitespace_only_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        read_table(_write(tmp_path / "blank.csv", "\n\n  \n"))


def test_header_only_file_is_a_data_error_listing_the_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"header \(press, humidity, scrap\) but no data rows"):
        read_table(_write(tmp_path / "header.csv", "press,humidity,scrap\n"))


@pytest.mark.parametrize("name", ["runs.xlsx", "runs.json", "runs", "runs.parquet.gz"])
def test_unknown_extension_is_a_data_error_listing_supported_formats(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError, match="unknown table format") as caught:
        read_table(_write(tmp_path / name, ROWS))
    assert ".csv" in str(caught.value) and ".parquet" in str(caught.value)


def test_line_with_too_many_fields_is_a_data_error_naming_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "ragged.csv", "a,b\n1,2\n3,4\n5,6,7,8\n")
    with pytest.raises(DataError, match="cannot be read as CSV") as caught:
        read_table(path)
    assert "line 4" in str(caught.value) and str(path) in str(caught.value)


def test_duplicate_column_name_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="column 'a' appears twice"):
        read_table(_write(tmp_path / "dup.csv", "a,b,a\n1,2,3\n"))


def test_gzipped_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(ROWS)
    assert read_table(path).shape == (2, 3)


def test_corrupt_gzip_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a valid gzip file"):
        read_table(_write(tmp_path / "runs.csv.gz", ROWS))


def test_parquet_round_trips(tmp_path: Path) -> None:
    frame = pd.DataFrame({"press": ["P1", "P3"], "humidity": [61.5, 72.0], "scrap": [0, 1]})
    path = tmp_path / "runs.parquet"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(read_table(path), frame)


def test_corrupt_parquet_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_table(_write(tmp_path / "runs.parquet", ROWS))


def test_empty_parquet_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        read_table(_write(tmp_path / "runs.parquet", b""))


def test_jsonl_is_read_one_object_per_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "runs.jsonl", '{"press": "P1", "scrap": 0}\n\n{"press": "P3", "scrap": 1}\n')
    frame = read_table(path)
    assert frame.to_dict("list") == {"press": ["P1", "P3"], "scrap": [0, 1]}


def test_jsonl_with_a_broken_line_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "runs.jsonl", '{"press": "P1"}\n{"press": \n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_table(path)


def test_jsonl_line_that_is_not_an_object_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="line 1 holds a list"):
        read_table(_write(tmp_path / "runs.jsonl", "[1, 2]\n"))


def test_data_error_is_a_leanlearn_error() -> None:
    assert issubclass(DataError, LeanlearnError)


def test_table_format_reads_compound_extensions() -> None:
    assert table_format("a/b.CSV.GZ") == ("csv", True)
    assert table_format("b.pq") == ("parquet", False)


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.parquet", "out.jsonl"])
def test_write_table_round_trips_through_read_table(tmp_path: Path, name: str) -> None:
    frame = pd.DataFrame({"row": [0, 1], "rules": [["R1", "R2"], []], "scrap_predicted": [1, 0]})
    back = read_table(write_table(frame, tmp_path / name), nested="keep")  # the lists `apply` writes
    assert back["row"].tolist() == [0, 1]
    assert back["scrap_predicted"].tolist() == [1, 0]
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        assert back["rules"].fillna("").tolist() == ["R1;R2", ""]
    else:
        assert [list(v) for v in back["rules"]] == [["R1", "R2"], []]
