"""The du backend's limits log: durable across restarts, shared between processes, compacted."""

from __future__ import annotations

from fileserver_agent.quota import QuotaLimits
from fileserver_agent.quota import du as du_module
from fileserver_agent.quota.du import LimitsLog


def limits(uid: int, soft: int, hard: int) -> QuotaLimits:
    return QuotaLimits(uid=uid, soft_bytes=soft, hard_bytes=hard)


def test_the_latest_limits_win(tmp_path):
    log = LimitsLog(tmp_path / "limits.log")
    log.write([limits(1001, 10, 20), limits(1002, 30, 40)])
    log.write([limits(1001, 50, 60)])
    assert log.read(1001) == (50, 60)
    assert log.read(1002) == (30, 40)
    assert log.read(1003) == (0, 0)


def test_a_new_process_replays_the_log(tmp_path):
    LimitsLog(tmp_path / "limits.log").write([limits(1001, 10, 20), limits(1001, 11, 21)])
    assert LimitsLog(tmp_path / "limits.log").read(1001) == (11, 21)


def test_two_processes_sharing_the_state_dir_see_each_others_writes(tmp_path):
    first, second = LimitsLog(tmp_path / "limits.log"), LimitsLog(tmp_path / "limits.log")
    assert first.read(1001) == (0, 0)
    second.write([limits(1001, 10, 20)])
    assert first.read(1001) == (10, 20)
    first.write([limits(1001, 1, 2)])
    assert second.read(1001) == (1, 2)


def test_a_line_cut_short_by_a_crash_is_not_applied_and_does_not_block_the_rest(tmp_path):
    path = tmp_path / "limits.log"
    path.write_text("1001 10 20\n1002 30 4")
    log = LimitsLog(path)
    assert log.read(1001) == (10, 20)
    assert log.read(1002) == (0, 0)
    with open(path, "a") as f:
        f.write("0\n")  # the writer finishes its line
    assert log.read(1002) == (30, 40)


def test_a_garbled_line_is_skipped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "limits.log"
    path.write_text("1001 10 20\nnot a limit\n1002 30 40\n")
    log = LimitsLog(path)
    assert (log.read(1001), log.read(1002)) == ((10, 20), (30, 40))
    assert "ignoring malformed line" in caplog.text


def test_a_mostly_superseded_log_is_compacted_and_other_readers_follow(tmp_path, monkeypatch):
    monkeypatch.setattr(du_module, "COMPACT_AFTER_LINES", 10)
    path = tmp_path / "limits.log"
    writer, reader = LimitsLog(path), LimitsLog(path)
    for round_number in range(20):
        writer.write([limits(1001, round_number, 100), limits(1002, round_number, 200)])
        assert reader.read(1001) == (round_number, 100)
    assert len(path.read_text().splitlines()) <= 10
    assert reader.read(1002) == (19, 200)
    assert LimitsLog(path).read(1001) == (19, 100)
