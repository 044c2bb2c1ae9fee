"""The ``crmflow forecast`` command: round trip and bad input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from crmflow.plugins.forecast.command import forecast_command


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["series_id", "period", "value"])
        writer.writerows(rows)
    return path


def _monthly(sid: str, months: int = 36, start: int = 2015) -> list[tuple[str, str, str]]:
    t = np.arange(months)
    values = 100 + 2 * t + 20 * np.sin(2 * np.pi * t / 12)
    return [(sid, f"{start + k // 12}-{k % 12 + 1:02d}", f"{v:.2f}") for k, v in enumerate(values)]


def _run(args: list[str]):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(forecast_command, args, catch_exceptions=False)


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_round_trip_months_to_file(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.csv", _monthly("A") + _monthly("B", 30, 2016))
    out = tmp_path / "out.csv"
    result = _run(["--input", str(src), "--horizon", "4", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = _read(out.read_text())
    assert [r["date"] for r in rows if r["series_id"] == "A"] == [
        "2018-01", "2018-02", "2018-03", "2018-04"]  # fmt: skip
    assert [r["date"] for r in rows if r["series_id"] == "B"][0] == "2018-07"
    assert all(float(r["value"]) > 0 for r in rows)
    assert list(rows[0]) == ["series_id", "date", "value"]


def test_integer_index_and_days_to_stdout(tmp_path: Path) -> None:
    rows = [("s", str(k), str(10 + k % 7)) for k in range(5, 40)]
    days = [("d", f"2024-03-{k:02d}", str(k % 7 + 1)) for k in range(1, 29)]
    src = _write(tmp_path / "in.csv", rows)
    result = _run(["--input", str(src), "--horizon", "3", "--season", "7"])
    assert result.exit_code == 0
    assert [r["date"] for r in _read(result.stdout)] == ["40", "41", "42"]
    src = _write(tmp_path / "days.csv", days)
    result = _run(["--input", str(src), "--horizon", "2"])
    assert [r["date"] for r in _read(result.stdout)] == ["2024-03-29", "2024-03-30"]


def test_bad_rows_name_series_and_row_others_still_forecast(tmp_path: Path) -> None:
    rows = _monthly("good")
    rows += [("text", "2015-01", "1"), ("text", "2015-02", "abc"), ("text", "2015-03", "1")]
    rows += [("dup", "2015-01", "1"), ("dup", "2015-02", "2"), ("dup", "2015-02", "3"),
             ("dup", "2015-03", "1")]  # fmt: skip
    rows += [("short", "2015-01", "4")]
    src = _write(tmp_path / "in.csv", rows)
    result = _run(["--input", str(src), "--horizon", "2"])
    assert result.exit_code == 0
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3
    first_text_line = 2 + 36 + 1  # header, 36 rows of "good", then the bad row
    assert f"in.csv:{first_text_line}: series 'text': value 'abc' is not a number" in errors[0]
    assert "series 'dup': duplicate period 2015-02" in errors[1]
    assert "series 'short'" in errors[2] and "at least 3" in errors[2]
    assert {r["series_id"] for r in _read(result.stdout)} == {"good"}


def test_missing_column_is_one_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("series_id,month,value\na,2015-01,1\n")
    result = CliRunner().invoke(forecast_command, ["--input", str(src), "--horizon", "2"])
    assert result.exit_code != 0
    assert "missing column 'period'" in str(result.exception)


def test_regressor_files_are_accepted(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.csv", _monthly("A"))
    market = tmp_path / "market.csv"
    market.write_text("period,value\n" + "".join(
        f"{2015 + k // 12}-{k % 12 + 1:02d},{100 + k}\n" for k in range(40)))  # fmt: skip
    result = _run(["--input", str(src), "--horizon", "3", "--market", str(market)])
    assert result.exit_code == 0, result.output
    assert len(_read(result.stdout)) == 3
