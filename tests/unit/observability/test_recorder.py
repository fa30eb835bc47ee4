import json
import threading
import time
from pathlib import Path

from gateway.observability.recorder import JsonlSink


def test_every_written_record_is_on_disk_after_close(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "logs" / "r.jsonl")

    def writer(offset: int) -> None:
        for i in range(500):
            sink.write({"id": offset + i, "text": "x" * (i % 50)})

    threads = [threading.Thread(target=writer, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    lines = (tmp_path / "logs" / "r.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(
        n * 1000 + i for n in range(4) for i in range(500)
    )


def test_two_sinks_on_one_file_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    sinks = [JsonlSink(path), JsonlSink(path)]
    for i in range(2000):
        sinks[i % 2].write({"id": i, "pad": "y" * 300})
    for sink in sinks:
        sink.close()
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert sorted(ids) == list(range(2000))


def test_close_is_idempotent(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "r.jsonl")
    sink.write({"id": 1})
    sink.close()
    sink.close()
    assert (tmp_path / "r.jsonl").read_text().count("\n") == 1


def _drained(sink: JsonlSink) -> None:
    deadline = time.monotonic() + 5
    while not sink._queue.empty() and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.01)


def test_rotation_keeps_the_configured_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    sink = JsonlSink(path, max_bytes=2000, backups=2)
    for i in range(300):
        sink.write({"id": i, "pad": "z" * 40})
        if i % 10 == 9:
            _drained(sink)  # small batches, so rotation is checked often
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert files == ["r.jsonl", "r.jsonl.1", "r.jsonl.2"]
    newest_first = [
        json.loads(line)["id"]
        for name in ("r.jsonl.2", "r.jsonl.1", "r.jsonl")
        for line in (tmp_path / name).read_text().splitlines()
    ]
    assert newest_first == list(range(newest_first[0], 300)), (
        "the kept files hold the latest lines, in order"
    )
    assert all((tmp_path / name).stat().st_size < 2000 + 700 for name in files)


def test_two_writers_survive_rotation_without_losing_lines(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    sinks = [
        JsonlSink(path, max_bytes=50_000, backups=50),
        JsonlSink(path, max_bytes=50_000, backups=50),
    ]
    for i in range(3000):
        sinks[i % 2].write({"id": i, "pad": "q" * 60})
    for sink in sinks:
        sink.close()
    ids = []
    for file in tmp_path.iterdir():
        if not file.name.endswith(".lock"):
            ids += [json.loads(line)["id"] for line in file.read_text().splitlines()]
    assert sorted(ids) == list(range(3000))


def test_pii_is_redacted_in_logged_bodies_by_the_writer_thread(tmp_path: Path) -> None:
    from gateway.observability.redact import LogRedactor

    sink = JsonlSink(tmp_path / "r.jsonl", transform=LogRedactor())
    sink.write(
        {
            "id": 1,
            "request": {
                "messages": [
                    {"role": "user", "content": "mail jane.doe@example.com or 192.168.10.20"}
                ]
            },
            "response": {"text": "card 4111 1111 1111 1111 noted"},
        }
    )
    sink.close()
    line = (tmp_path / "r.jsonl").read_text()
    assert (
        "jane.doe@example.com" not in line
        and "4111 1111 1111 1111" not in line
        and "192.168.10.20" not in line
    )
    record = json.loads(line)
    assert record["request"]["messages"][0]["content"] == "mail <EMAIL_ADDRESS> or <IP_ADDRESS>"
    assert record["response"]["text"] == "card <CREDIT_CARD> noted"


def test_pii_is_redacted_in_the_fields_clients_and_upstreams_write(tmp_path: Path) -> None:
    """An end user named by an email, a tag or session holding one, an upstream error quoting
    the prompt: with `redact_pii_in_logs` none reaches the log, bodies logged or not."""
    from gateway.observability.redact import LogRedactor

    sink = JsonlSink(tmp_path / "r.jsonl", transform=LogRedactor())
    sink.write(
        {
            "id": 1,
            "user": "jane.doe@example.com",
            "tags": {"customer": "bob@example.org", "feature": "search"},
            "session_id": "call +1 415 555 0134",
            "error_message": "upstream said: invalid input 'card 4111 1111 1111 1111'",
            "model": "gpt-4o",
        }
    )
    sink.close()
    record = json.loads((tmp_path / "r.jsonl").read_text())
    line = json.dumps(record)
    for value in ("jane.doe@example.com", "bob@example.org", "555 0134", "4111 1111"):
        assert value not in line
    assert record["user"] == "<EMAIL_ADDRESS>" and record["tags"]["feature"] == "search"
    assert record["model"] == "gpt-4o"
