import json
import threading
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
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(n * 1000 + i for n in range(4) for i in range(500))


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
