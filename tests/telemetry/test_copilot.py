"""GitHub Copilot metrics payloads: every generation read faithfully, sums checked against the JSON.

The checks recompute GitHub's numbers straight from the JSON (no reader code) and
compare them with the rows: the per-day acceptance sums of every breakdown, GitHub's
acceptance rate, the per-user rows and the seats. They run on our own fixtures
(tests/data/copilot) and, when present, on the real payloads in ../shared/data.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from codex_ds.telemetry import schema
from codex_ds.telemetry.formats import continue_dev, copilot
from codex_ds.telemetry.formats.base import LINE_COLUMN, RAW_COLUMN, FormatError, ParsedFile

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "data" / "copilot"
SHARED = REPO.parent / "shared" / "data"
SHARED_COPILOT = SHARED / "copilot_metrics"

FIXTURE_FILES = sorted(p for p in FIXTURES.iterdir() if p.is_file())
SHARED_FILES = (
    sorted(p for p in SHARED_COPILOT.rglob("*") if p.is_file()) if SHARED.is_dir() else []
)
#: The one shared file whose records cannot be daily rows: user totals over 28 days.
PERIOD_TOTALS_FILES = {"enterprise-users-28-day-report.json"}

DAILY_KEY = schema.COPILOT_DAILY.primary_key
USER_KEY = schema.COPILOT_USER_DAILY.primary_key


def shared_params() -> list[Any]:
    if not SHARED_FILES:
        return [
            pytest.param(
                None,
                marks=pytest.mark.skip(
                    reason=f"../shared/data not present ({SHARED_COPILOT} is absent from a clone)"
                ),
                id="shared-data-absent",
            )
        ]
    return [
        pytest.param(p, id=str(p.relative_to(SHARED_COPILOT)), marks=pytest.mark.shared_data)
        for p in SHARED_FILES
    ]


ALL_PARAMS = [pytest.param(p, id=f"fixture-{p.name}") for p in FIXTURE_FILES] + shared_params()


# ------------------------------------------------------------------ the JSON, read straight


def load_json_units(path: Path) -> list[Any]:
    """The file's JSON values: one for a JSON document, one a line for NDJSON."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig")
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def records(path: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(container, record) for every day/user record of a payload (manifests followed)."""
    for unit in load_json_units(path):
        items = unit if isinstance(unit, list) else [unit]
        for item in items:
            if "download_links" in item:
                for link in item["download_links"]:
                    name = link.split("?", 1)[0].rsplit("/", 1)[-1]
                    yield from records(path.parent / name)
            elif "seats" in item:
                continue
            elif "day_totals" in item or "user_totals" in item:
                for rec in item.get("day_totals", []) + item.get("user_totals", []):
                    yield item, rec
            else:
                yield {}, item


def ids_of(container: dict[str, Any], rec: dict[str, Any]) -> set[str]:
    """The scope ids a record's rows may carry ('' when the payload has none)."""
    found = {""}
    for key in ("enterprise_id", "organization_id"):
        for source in (rec, container):
            if source.get(key) is not None:
                found.add(str(source[key]))
    return found


def generation(rec: dict[str, Any]) -> str:
    if any(k.startswith("copilot_") for k in rec):
        return "metrics"
    if "total_suggestions_count" in rec or "breakdown" in rec:
        return "usage"
    if any(k in rec for k in ("user_id", "user_login", "login")):
        return "user"
    return "usage_metrics"


def code_cells(rec: dict[str, Any]) -> list[dict[str, Any]]:
    cc = rec.get("copilot_ide_code_completions") or {}
    return [
        lang
        for editor in cc.get("editors", [])
        for model in editor.get("models", [])
        for lang in model.get("languages", [])
    ]


def expected_sums(path: Path) -> dict[tuple[frozenset[str], str, str, str], tuple[int, int]]:
    """(scope ids, day, breakdown, feature or '*') → (Σ acceptances, Σ suggestions), from JSON."""
    out: dict[tuple[frozenset[str], str, str, str], tuple[int, int]] = {}
    for container, rec in records(path):
        ids = frozenset(ids_of(container, rec))
        kind = generation(rec)
        if kind == "usage":
            day = rec["day"]
            out[ids, day, "total", "all"] = (
                rec["total_acceptances_count"],
                rec["total_suggestions_count"],
            )
            out[ids, day, "editor_language", "code_completion"] = (
                sum(c["acceptances_count"] for c in rec["breakdown"]),
                sum(c["suggestions_count"] for c in rec["breakdown"]),
            )
        elif kind == "metrics":
            cells = code_cells(rec)
            sums = (
                sum(c["total_code_acceptances"] for c in cells),
                sum(c["total_code_suggestions"] for c in cells),
            )
            day = rec["date"]
            out[ids, day, "total", "all"] = sums
            for breakdown in ("feature", "editor", "editor_model", "editor_model_language"):
                out[ids, day, breakdown, "code_completion"] = sums
            out[ids, day, "language", "code_completion"] = sums
        elif kind == "usage_metrics":
            day = rec["day"]
            out[ids, day, "total", "all"] = (
                rec["code_acceptance_activity_count"],
                rec["code_generation_activity_count"],
            )
            for key, breakdown in (
                ("totals_by_ide", "ide"),
                ("totals_by_feature", "feature"),
                ("totals_by_language_feature", "language_feature"),
                ("totals_by_language_model", "language_model"),
                ("totals_by_model_feature", "model_feature"),
            ):
                cells = rec.get(key) or []
                if cells:
                    out[ids, day, breakdown, "*"] = (
                        sum(c["code_acceptance_activity_count"] for c in cells),
                        sum(c["code_generation_activity_count"] for c in cells),
                    )
    return out


def rows_of(parsed: ParsedFile, table: str) -> list[dict[str, Any]]:
    return [row for b in parsed.batches if b.table == table for row in b.data.to_pylist()]


def rate(acceptances: Any, suggestions: Any) -> float | None:
    if acceptances is None or not suggestions:
        return None
    return acceptances / suggestions


# ------------------------------------------------------------------ every payload


@pytest.mark.parametrize("path", ALL_PARAMS)
def test_claimed_by_exactly_one_sniff(path: Path) -> None:
    head = path.read_bytes()[: 64 * 1024]
    claims = [copilot.sniff(path, head), continue_dev.sniff(path, head)]
    assert claims == [True, False]


@pytest.mark.parametrize("path", ALL_PARAMS)
def test_the_dispatcher_hands_it_to_this_reader(path: Path) -> None:
    from codex_ds.telemetry import formats

    claimant = getattr(formats, "claimant", None)
    if claimant is None:  # pragma: no cover - until the dispatcher lands
        pytest.skip("codex_ds.telemetry.formats.claimant is not available yet")
    assert claimant(path) == "copilot"


@pytest.mark.parametrize("path", ALL_PARAMS)
def test_acceptance_sums_equal_the_json(path: Path) -> None:
    parsed = copilot.read(path)
    daily = rows_of(parsed, "copilot_daily")
    expected = expected_sums(path)
    for (ids, day, breakdown, feature), (acc, sugg) in expected.items():
        cell = [
            r
            for r in daily
            if r["scope_id"] in ids
            and r["day"] == day
            and r["breakdown"] == breakdown
            and (feature == "*" or r["feature"] == feature)
        ]
        assert cell, (day, breakdown, feature)
        assert sum(r["acceptances"] or 0 for r in cell) == acc, (day, breakdown, feature)
        assert sum(r["suggestions"] or 0 for r in cell) == sugg, (day, breakdown, feature)
        if breakdown == "total":
            (total,) = cell
            want = rate(acc, sugg)
            if want is None:
                assert total["acceptance_rate"] is None
            else:
                assert math.isclose(total["acceptance_rate"], want)
    # Every row: GitHub's acceptance rate of its own counts.
    for r in daily:
        want = rate(r["acceptances"], r["suggestions"])
        if want is None:
            assert r["acceptance_rate"] is None
        else:
            assert math.isclose(r["acceptance_rate"], want)


@pytest.mark.parametrize("path", ALL_PARAMS)
def test_keys_unique_and_columns_complete(path: Path) -> None:
    parsed = copilot.read(path)
    assert parsed.format == copilot.NAME
    for batch in parsed.batches:
        table = schema.TABLES[batch.table]
        assert batch.table.startswith("copilot_")
        assert set(batch.data.column_names) == {*table.column_names, LINE_COLUMN, RAW_COLUMN}
        rows = batch.data.to_pylist()
        keys = [tuple(r[k] for k in table.primary_key) for r in rows]
        assert len(keys) == len(set(keys)), f"duplicate {batch.table} keys"
        for r in rows:
            assert r[LINE_COLUMN] >= 1
            assert r["source_file"].endswith(Path(r["source_file"]).name)
            for col in table.primary_key:
                assert r[col] is not None, col
            assert r["scope"] in schema.COPILOT_SCOPES
            if batch.table != "copilot_seats":
                assert r["api"] in schema.COPILOT_APIS


@pytest.mark.parametrize("path", ALL_PARAMS)
def test_users_and_seats_equal_the_json(path: Path) -> None:
    parsed = copilot.read(path)
    users = {(r["day"], r["user_id"]): r for r in rows_of(parsed, "copilot_user_daily")}
    expected_users = 0
    for container, rec in records(path):
        if generation(rec) != "user":
            continue
        day = rec.get("day") or container.get("report_day")
        if day is None:  # period totals: reported, not loaded
            continue
        expected_users += 1
        row = users[day, str(rec["user_id"])]
        assert row["acceptances"] == rec["code_acceptance_activity_count"]
        assert row["generations"] == rec["code_generation_activity_count"]
        assert row["interactions"] == rec["user_initiated_interaction_count"]
        assert row["active"] == (rec["user_initiated_interaction_count"] > 0)
        want = rate(rec["code_acceptance_activity_count"], rec["code_generation_activity_count"])
        assert row["acceptance_rate"] == (None if want is None else pytest.approx(want))
    assert len(users) == expected_users
    seats = rows_of(parsed, "copilot_seats")
    for unit in load_json_units(path):
        if isinstance(unit, dict) and "seats" in unit:
            assert [s["user_login"] for s in seats] == [
                s["assignee"]["login"] for s in unit["seats"]
            ]
            assert len(seats) == unit["total_seats"]


@pytest.mark.parametrize("path", ALL_PARAMS)
def test_no_issues_and_period_totals_go_to_the_period_table(path: Path) -> None:
    parsed = copilot.read(path)
    assert parsed.rows_read > 0
    if path.name in PERIOD_TOTALS_FILES:
        # GitHub's sample repeats user_id 2 and 3 for other logins with other numbers:
        # conflicting records for one key are reported, never merged or dropped silently.
        assert {(i.reason, i.line) for i in parsed.issues} <= {
            ("duplicate_record", 4),
            ("duplicate_record", 5),
        }
        assert [b.table for b in parsed.batches] == ["copilot_user_period"]
        assert parsed.batches[0].data.num_rows + len(parsed.issues) == parsed.rows_read
    else:
        assert parsed.issues == []
        assert parsed.batches


def test_manifests_return_the_linked_reports_rows() -> None:
    folders = [FIXTURES] + ([SHARED_COPILOT] if SHARED_FILES else [])
    checked = 0
    for folder in folders:
        for manifest in sorted(folder.rglob("download-links-*.json")):
            links = json.loads(manifest.read_text())["download_links"]
            reports = [manifest.parent / link.split("?")[0].rsplit("/", 1)[-1] for link in links]
            got = copilot.read(manifest)
            want = [copilot.read(r) for r in reports]
            for table in ("copilot_daily", "copilot_user_daily"):
                assert rows_of(got, table) == [row for w in want for row in rows_of(w, table)]
            checked += 1
    assert checked >= 1


# ------------------------------------------------------------------ our fixtures, exactly


def daily_rows(name: str) -> dict[tuple[str, ...], dict[str, Any]]:
    parsed = copilot.read(FIXTURES / name)
    return {
        tuple(str(r[k]) for k in ("day", "breakdown", "editor", "model", "language", "feature")): r
        for r in rows_of(parsed, "copilot_daily")
    }


def test_legacy_usage_mapping() -> None:
    rows = daily_rows("organization_usage_legacy.json")
    total = rows["2024-05-06", "total", "all", "all", "all", "all"]
    assert (total["api"], total["scope"], total["scope_id"]) == ("usage", "organization", "")
    assert (total["suggestions"], total["acceptances"], total["acceptance_rate"]) == (120, 30, 0.25)
    assert (total["active_users"], total["chats"]) == (6, 19)
    chat = rows["2024-05-06", "feature", "all", "all", "all", "chat"]
    assert (chat["chats"], chat["acceptances"], chat["active_users"]) == (19, 4, 3)
    assert chat["suggestions"] is None and chat["acceptance_rate"] is None
    completion = rows["2024-05-06", "feature", "all", "all", "all", "code_completion"]
    assert (completion["suggestions"], completion["acceptances"]) == (120, 30)
    # Two breakdown entries for (vscode, python) on 2024-05-07: counts added, users unknown.
    merged = rows["2024-05-07", "editor_language", "vscode", "all", "python", "code_completion"]
    assert (merged["suggestions"], merged["acceptances"], merged["lines_accepted"]) == (60, 17, 25)
    assert merged["active_users"] is None
    single = rows["2024-05-07", "editor_language", "neovim", "all", "typescript", "code_completion"]
    assert single["active_users"] == 1
    assert len(rows) == 2 * 3 + 2 + 2


def test_metrics_api_mapping() -> None:
    rows = daily_rows("enterprise_metrics.json")
    day = "2024-11-04"
    total = rows[day, "total", "all", "all", "all", "all"]
    assert (total["scope"], total["scope_id"]) == ("enterprise", "")
    assert (total["active_users"], total["engaged_users"]) == (9, 8)
    assert (total["suggestions"], total["acceptances"]) == (192, 60)
    assert total["acceptance_rate"] == pytest.approx(60 / 192)
    assert total["chats"] == 14 + 5
    jb = rows[day, "editor", "jetbrains", "all", "all", "code_completion"]
    assert (jb["suggestions"], jb["acceptances"], jb["engaged_users"]) == (80, 27, 2)
    custom = rows[day, "editor_model", "jetbrains", "acme-tuned", "all", "code_completion"]
    assert (custom["suggestions"], custom["engaged_users"]) == (20, 1)
    java = rows[day, "language", "all", "all", "java", "code_completion"]
    assert (java["suggestions"], java["acceptances"], java["engaged_users"]) == (80, 27, 2)
    cell = rows[day, "editor_model_language", "vscode", "default", "python", "code_completion"]
    assert (cell["lines_suggested"], cell["lines_accepted"], cell["engaged_users"]) == (150, 40, 4)
    chat = rows[day, "feature", "all", "all", "all", "chat_ide"]
    assert (chat["chats"], chat["acceptances"], chat["engaged_users"]) == (14, 6, 3)
    assert chat["acceptance_rate"] is None
    dotcom = rows[day, "model", "all", "default", "all", "chat_dotcom"]
    assert (dotcom["chats"], dotcom["engaged_users"]) == (5, 2)
    prs = rows[day, "feature", "all", "all", "all", "pull_request_summaries"]
    assert (prs["interactions"], prs["engaged_users"]) == (3, 1)


def test_usage_metrics_report_mapping() -> None:
    rows = daily_rows("organization-2-day-report.json")
    day = "2026-02-02"
    total = rows[day, "total", "all", "all", "all", "all"]
    assert (total["api"], total["scope"], total["scope_id"]) == (
        "usage_metrics",
        "organization",
        "4242",
    )
    assert (total["suggestions"], total["acceptances"], total["active_users"]) == (320, 102, 6)
    assert (total["lines_suggested"], total["loc_added"], total["lines_accepted"]) == (
        480,
        170,
        None,
    )
    assert total["interactions"] == 18
    agent = rows[day, "feature", "all", "all", "all", "chat_panel_agent_mode"]
    assert (agent["suggestions"], agent["acceptances"], agent["interactions"]) == (20, 12, 15)
    lm = rows[day, "language_model", "all", "gpt-4.1", "python", "all"]
    assert (lm["suggestions"], lm["acceptances"]) == (300, 90)
    mf = rows[day, "model_feature", "all", "claude-sonnet-4.5", "all", "chat_panel_agent_mode"]
    assert mf["interactions"] == 15
    ide = rows[day, "ide", "vscode", "all", "all", "all"]
    assert ide["suggestions"] == 320
    cli = rows[day, "cli", "all", "all", "all", "copilot_cli"]
    assert (cli["interactions"], cli["active_users"]) == (3, 1)
    idle = rows["2026-02-03", "feature", "all", "all", "all", "chat_panel_agent_mode"]
    assert idle["suggestions"] == 0 and idle["acceptance_rate"] is None


def test_user_reports_ndjson_and_single_day_user_totals() -> None:
    parsed = copilot.read(FIXTURES / "organization-users-2-day-report.ndjson")
    users = {(r["day"], r["user_login"]): r for r in rows_of(parsed, "copilot_user_daily")}
    assert set(users) == {("2026-02-02", "ana"), ("2026-02-02", "bo"), ("2026-02-03", "ana")}
    bo = users["2026-02-02", "bo"]
    assert (bo["active"], bo["interactions"], bo["generations"], bo["acceptances"]) == (
        False,
        0,
        15,
        5,
    )
    assert bo["acceptance_rate"] == pytest.approx(1 / 3)
    ana = users["2026-02-03", "ana"]
    assert (ana["active"], ana["used_agent"], ana["used_chat"], ana["used_cli"]) == (
        True,
        True,
        True,
        False,
    )
    assert (ana["scope"], ana["scope_id"], ana["user_id"]) == ("organization", "4242", "1001")
    assert [r[LINE_COLUMN] for r in rows_of(parsed, "copilot_user_daily")] == [1, 2, 3]

    single = copilot.read(FIXTURES / "enterprise-users-1-day-report.json")
    (row,) = rows_of(single, "copilot_user_daily")
    assert (row["day"], row["scope"], row["scope_id"], row["user_login"]) == (
        "2026-02-03",
        "enterprise",
        "77",
        "ana",
    )


def test_seats_mapping() -> None:
    parsed = copilot.read(FIXTURES / "organization_seats.json")
    seats = {r["user_login"]: r for r in rows_of(parsed, "copilot_seats")}
    ana, bo, cy = seats["ana"], seats["bo"], seats["cy"]
    assert (ana["user_id"], ana["plan_type"], ana["team"], ana["scope_id"]) == (
        "1001",
        "business",
        "platform",
        "",
    )
    assert ana["last_activity_at"] == "2026-02-03 16:45:10"  # +01:00 → UTC
    assert ana["created_at"] == "2025-06-01 08:00:00"
    assert ana["last_activity_editor"] == "vscode/1.96.0/copilot/1.250.0"
    assert bo["team"] is None
    assert cy["last_activity_at"] is None and cy["last_activity_editor"] is None


def test_scope_from_the_file_name_when_the_payload_has_no_ids(tmp_path: Path) -> None:
    src = json.loads((FIXTURES / "organization_usage_legacy.json").read_text())
    for name, scope in (
        ("enterprise_usage.json", "enterprise"),
        ("org-acme-usage.json", "organization"),
        ("team-web-usage.json", "team"),
        ("usage.json", "unknown"),
    ):
        path = tmp_path / name
        path.write_text(json.dumps(src))
        assert {r["scope"] for r in rows_of(copilot.read(path), "copilot_daily")} == {scope}


def test_gzip_input_reads_the_same_rows(tmp_path: Path) -> None:
    for name in ("enterprise_metrics.json", "organization-users-2-day-report.ndjson"):
        plain = copilot.read(FIXTURES / name)
        packed = tmp_path / f"{name}.gz"
        packed.write_bytes(gzip.compress((FIXTURES / name).read_bytes()))
        assert copilot.sniff(packed, gzip.decompress(packed.read_bytes())[:65536])
        got = copilot.read(packed)
        for table in ("copilot_daily", "copilot_user_daily"):
            strip = [{**r, "source_file": ""} for r in rows_of(got, table)]
            assert strip == [{**r, "source_file": ""} for r in rows_of(plain, table)]
        assert {r["source_file"] for b in got.batches for r in b.data.to_pylist()} == {str(packed)}


# ------------------------------------------------------------------ malformed input


def write(tmp_path: Path, name: str, value: Any) -> Path:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


def legacy_day(day: str, **extra: Any) -> dict[str, Any]:
    rec = {
        "day": day,
        "total_suggestions_count": 10,
        "total_acceptances_count": 4,
        "total_lines_suggested": 12,
        "total_lines_accepted": 5,
        "total_active_users": 2,
        "total_chat_acceptances": 0,
        "total_chat_turns": 0,
        "total_active_chat_users": 0,
        "breakdown": [
            {
                "language": "python",
                "editor": "vscode",
                "suggestions_count": 10,
                "acceptances_count": 4,
                "lines_suggested": 12,
                "lines_accepted": 5,
                "active_users": 2,
            }
        ],
    }
    rec.update(extra)
    return rec


def test_a_record_of_the_wrong_shape_is_an_issue_and_the_others_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "org_usage.json",
        [
            legacy_day("2024-05-01"),
            legacy_day("2024-05-02", breakdown={"python": 3}),
            legacy_day("2024-05-03"),
        ],
    )
    parsed = copilot.read(path)
    (issue,) = parsed.issues
    assert (issue.reason, issue.line, issue.field, issue.table) == (
        "invalid_shape",
        2,
        "breakdown",
        "copilot_daily",
    )
    assert issue.raw is not None and "2024-05-02" in issue.raw
    days = {r["day"] for r in rows_of(parsed, "copilot_daily")}
    assert days == {"2024-05-01", "2024-05-03"}
    assert parsed.rows_read == 3


def test_a_day_without_its_date_is_a_missing_field(tmp_path: Path) -> None:
    metrics = json.loads((FIXTURES / "enterprise_metrics.json").read_text())
    del metrics[1]["date"]
    parsed = copilot.read(write(tmp_path, "metrics.json", metrics))
    (issue,) = parsed.issues
    assert (issue.reason, issue.line, issue.field) == ("missing_field", 2, "date")
    assert {r["day"] for r in rows_of(parsed, "copilot_daily")} == {"2024-11-04"}

    report = json.loads((FIXTURES / "organization-2-day-report.json").read_text())
    del report["day_totals"][0]["day"]
    report["day_totals"][1]["totals_by_ide"] = "vscode"
    parsed = copilot.read(write(tmp_path, "organization-report.json", report))
    assert [(i.reason, i.line, i.field) for i in parsed.issues] == [
        ("missing_field", 1, "day"),
        ("invalid_shape", 2, "totals_by_ide"),
    ]
    assert rows_of(parsed, "copilot_daily") == []


def test_ndjson_with_a_broken_line(tmp_path: Path) -> None:
    lines = (FIXTURES / "organization-users-2-day-report.ndjson").read_text().splitlines()
    lines.insert(1, '{"day": "2026-02-02", "user_id": 9')
    parsed = copilot.read(write(tmp_path, "users.ndjson", "\n".join(lines) + "\n"))
    (issue,) = parsed.issues
    assert (issue.reason, issue.line) == ("invalid_json", 2)
    assert [r[LINE_COLUMN] for r in rows_of(parsed, "copilot_user_daily")] == [1, 3, 4]


def test_a_missing_linked_report_is_named(tmp_path: Path) -> None:
    report = tmp_path / "organization-2-day-report.json"
    report.write_bytes((FIXTURES / "organization-2-day-report.json").read_bytes())
    manifest = write(
        tmp_path,
        "download-links-organization-2-day.json",
        {
            "download_links": [
                "https://example.invalid/a/organization-2-day-report.json?sig=x",
                "https://example.invalid/a/organization-gone-report.json?sig=y",
            ],
            "report_start_day": "2026-02-02",
            "report_end_day": "2026-02-03",
        },
    )
    parsed = copilot.read(manifest)
    (issue,) = parsed.issues
    assert issue.reason == "linked_report_missing"
    assert "organization-gone-report.json" in issue.detail
    assert issue.line == 2
    assert {r["source_file"] for r in rows_of(parsed, "copilot_daily")} == {str(report)}
    assert parsed.rows_read == 2


def test_period_user_totals_become_period_rows_not_days(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "enterprise-users-1-day-report.json").read_text())
    del doc["report_day"]
    doc.update(report_start_day="2026-01-07", report_end_day="2026-02-03")
    parsed = copilot.read(write(tmp_path, "enterprise-users-28-day.json", doc))
    assert parsed.issues == []
    assert [b.table for b in parsed.batches] == ["copilot_user_period"]
    (row,) = rows_of(parsed, "copilot_user_period")
    assert (row["period_start"], row["period_end"]) == ("2026-01-07", "2026-02-03")
    assert "day" not in row


def test_duplicate_day_records(tmp_path: Path) -> None:
    same = copilot.read(write(tmp_path, "a.json", [legacy_day("2024-05-01")] * 2))
    assert same.issues == [] and len(rows_of(same, "copilot_daily")) == 4
    different = copilot.read(
        write(
            tmp_path,
            "b.json",
            [legacy_day("2024-05-01"), legacy_day("2024-05-01", total_chat_turns=3)],
        )
    )
    assert [(i.reason, i.line) for i in different.issues] == [("duplicate_record", 2)]
    assert len(rows_of(different, "copilot_daily")) == 4


def test_values_of_the_wrong_type_are_left_to_validation(tmp_path: Path) -> None:
    bad = legacy_day("2024-05-01", total_suggestions_count="lots")
    parsed = copilot.read(write(tmp_path, "usage.json", [bad, legacy_day("2024-05-02")]))
    (batch,) = parsed.batches
    assert batch.data.schema.field("suggestions").type == pa.string()
    total = [r for r in batch.data.to_pylist() if r["breakdown"] == "total"]
    assert [r["suggestions"] for r in total] == ["lots", "10"]
    assert total[0]["acceptance_rate"] is None


def test_unknown_and_unreadable_payloads(tmp_path: Path) -> None:
    unknown = write(tmp_path, "other.json", [{"date": "2024-01-01", "visitors": 3}])
    assert not copilot.sniff(unknown, unknown.read_bytes())
    with pytest.raises(FormatError):
        copilot.read(unknown)
    binary = tmp_path / "blob.json"
    binary.write_bytes(b"\xff\xfe[{\x00")
    with pytest.raises(FormatError):
        copilot.read(binary)
    assert not copilot.sniff(tmp_path / "x.csv", b"day,total_suggestions_count\n")


def test_empty_seat_list_and_empty_manifest(tmp_path: Path) -> None:
    seats = copilot.read(write(tmp_path, "seats.json", {"total_seats": 0, "seats": []}))
    assert (seats.batches, seats.issues, seats.rows_read) == ([], [], 0)
    empty = {"download_links": [], "report_day": "2026-02-03"}
    path = write(tmp_path, "download-links.json", empty)
    assert copilot.sniff(path, path.read_bytes())
    assert not copilot.sniff(path, b'{"download_links": ["https://example.invalid/x.zip"]}')
    links = copilot.read(path)
    assert (links.batches, links.issues) == ([], [])


# ------------------------------------------------------------------ end to end (ingest)


def ingest_into_fresh_warehouse(tmp_path: Path, path: Path) -> Any:
    try:
        from codex_ds.telemetry.ingest import ingest_paths
    except ImportError as exc:  # pragma: no cover - until ingestion lands
        pytest.skip(f"codex_ds.telemetry.ingest is not available yet: {exc}")
    from codex_ds.warehouse import db

    con = db.connect(tmp_path / "w.duckdb")
    ingest_paths(con, [path])
    return con


@pytest.mark.parametrize("path", ALL_PARAMS)
def test_end_to_end_nothing_quarantined_and_rates_stored(tmp_path: Path, path: Path) -> None:
    con = ingest_into_fresh_warehouse(tmp_path, path)
    try:
        reasons = dict(
            con.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason").fetchall()
        )
        if path.name in PERIOD_TOTALS_FILES and path.parent.name == "new-api":
            assert reasons == {"duplicate_record": 2}  # see the test above
        else:
            assert reasons == {}
        stored = defaultdict(list)
        for row in con.execute(
            "SELECT scope_id, CAST(day AS VARCHAR), breakdown, feature, acceptances, suggestions, "
            "acceptance_rate FROM copilot_daily"
        ).fetchall():
            stored[row[1], row[2]].append(row)
        for (ids, day, breakdown, feature), (acc, sugg) in expected_sums(path).items():
            cell = [
                r
                for r in stored[day, breakdown]
                if r[0] in ids and (feature == "*" or r[3] == feature)
            ]
            assert sum(r[4] or 0 for r in cell) == acc
            assert sum(r[5] or 0 for r in cell) == sugg
            if breakdown == "total":
                (total,) = cell
                want = rate(acc, sugg)
                assert (total[6] is None) if want is None else math.isclose(total[6], want)
        for _, _, _, _, acc, sugg, stored_rate in (r for rows in stored.values() for r in rows):
            want = rate(acc, sugg)
            assert (stored_rate is None) if want is None else math.isclose(stored_rate, want)
        n_users = con.execute("SELECT count(*) FROM copilot_user_daily").fetchone()
        assert n_users is not None
        assert n_users[0] == len(rows_of(copilot.read(path), "copilot_user_daily"))
    finally:
        con.close()
