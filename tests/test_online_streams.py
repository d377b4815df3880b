"""Event streams: file replay (paced), JSON Lines from a pipe, a tailed folder; positions and seeking."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from leanlearn.errors import DataError
from leanlearn.online.streams import DirectoryStream, FileReplay, JsonLinesStream, open_stream


def _events(n: int) -> pd.DataFrame:
    return pd.DataFrame({"torque": [float(i) for i in range(n)], "scrap": [i % 3 == 0 for i in range(n)]})


def _drain(stream, size=4):
    out = [batch for batch in stream.batches(size) if len(batch)]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_file_replay_reads_every_row_once_in_order(tmp_path, suffix):
    from leanlearn.data.sources import write_table

    path = write_table(_events(10), tmp_path / f"events{suffix}")
    stream = open_stream(str(path))
    assert isinstance(stream, FileReplay)
    assert _drain(stream, 3)["torque"].tolist() == [float(i) for i in range(10)]
    assert stream.position() == {"kind": "file", "events": 10}


def test_file_replay_resumes_after_the_recorded_position():
    stream = FileReplay("events", frame=_events(10))
    stream.seek({"kind": "file", "events": 7})
    assert _drain(stream)["torque"].tolist() == [7.0, 8.0, 9.0]


def test_rate_limited_replay_yields_small_paced_batches():
    stream = FileReplay("events", frame=_events(100), rate=200.0)  # 200 events/s: 10 per 50 ms tick
    sizes = [len(b) for b in stream.batches(1000)]
    assert set(sizes) == {10} and sum(sizes) == 100


def test_a_checkpoint_of_another_stream_kind_is_refused():
    with pytest.raises(DataError, match="jsonl stream"):
        FileReplay("events", frame=_events(3)).seek({"kind": "jsonl", "lines": 2})


def test_json_lines_are_parsed_and_bad_lines_counted_not_dropped_silently():
    text = b'{"torque": 1.0, "scrap": 0}\n\nnot json\n[1, 2]\n{"torque": 2.5}\n'
    stream = JsonLinesStream(io.BytesIO(text), label="pipe", linger=0.05)
    frame = _drain(stream)
    assert frame["torque"].tolist() == [1.0, 2.5]
    assert stream.bad_lines == 2
    assert stream.problems[0].startswith("pipe line 3: not valid JSON")
    assert stream.position() == {"kind": "jsonl", "lines": 5, "bad_lines": 2}


def test_json_lines_resume_skips_the_lines_already_counted():
    lines = b"".join(json.dumps({"i": i}).encode() + b"\n" for i in range(10))
    stream = JsonLinesStream(io.BytesIO(lines), linger=0.05)
    stream.seek({"kind": "jsonl", "lines": 6, "bad_lines": 1})
    assert _drain(stream)["i"].tolist() == [6, 7, 8, 9]
    assert stream.position()["lines"] == 10 and stream.bad_lines == 1


def test_a_folder_is_tailed_line_by_line_and_file_by_file(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "a.jsonl").write_text('{"i": 0}\n{"i": 1}\n{"i": 2', encoding="utf-8")  # last line still being written
    stream = DirectoryStream(spool, follow=False)
    assert _drain(stream)["i"].tolist() == [0, 1]
    with open(spool / "a.jsonl", "a", encoding="utf-8") as fh:
        fh.write("}\n")
    (spool / "b.csv").write_text("i,x\n3,0.5\n4,0.25\n", encoding="utf-8")
    position = stream.position()
    assert _drain(stream)["i"].tolist() == [2, 3, 4]
    again = DirectoryStream(spool, follow=False)  # a restarted reader at the earlier position
    again.seek(position)
    assert _drain(again)["i"].tolist() == [2, 3, 4]
    resumed = DirectoryStream(spool, follow=False)  # resuming inside a CSV file re-reads its header
    resumed.seek({"kind": "directory", "file": "b.csv", "offset": len("i,x\n3,0.5\n"), "lines": 1})
    assert _drain(resumed).to_dict("records") == [{"i": 4, "x": 0.25}]


def test_following_a_folder_yields_empty_batches_while_idle(tmp_path):
    stream = DirectoryStream(tmp_path, follow=True, poll=0.01)
    batches = stream.batches(10)
    assert len(next(batches)) == 0
    (tmp_path / "x.jsonl").write_text('{"i": 1}\n', encoding="utf-8")
    assert next(batches)["i"].tolist() == [1]


def test_open_stream_names_what_is_missing(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        open_stream(tmp_path / "nothing.csv")
    assert isinstance(open_stream("-"), JsonLinesStream)
    assert isinstance(open_stream(tmp_path), DirectoryStream)
