"""The sync's memory settings reach dlt, Arrow and glibc."""

import os
import subprocess
import sys
import threading

from dlt.common.configuration import resolve_configuration
from dlt.common.data_writers.buffered import BufferedDataWriter

from orchestration.ingest import memory
from orchestration.ingest.context import SyncContext
from orchestration.ingest.pipeline import extract_settings
from orchestration.ingest.source import ROWS_PER_BATCH
from orchestration.settings import Settings


def _buffer_max_items() -> int:
    return resolve_configuration(BufferedDataWriter.BufferedDataWriterConfiguration()).buffer_max_items


def test_dlt_writes_each_batch_of_raw_rows_at_once_during_a_sync_only():
    default = _buffer_max_items()
    with extract_settings():
        # dlt buffers rows per table up to this count; a batch must not wait for the next in memory.
        assert _buffer_max_items() <= ROWS_PER_BATCH < default
    assert _buffer_max_items() == default


def test_a_sync_process_allocates_arrow_memory_from_the_system_allocator():
    # A fresh interpreter: Arrow chooses its pool once, when pyarrow is first imported.
    probe = (
        "import orchestration.ingest.pipeline, pyarrow as pa, sys;"
        "sys.stdout.write(pa.default_memory_pool().backend_name)"
    )
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert done.stdout == "system"


def test_a_sync_hands_freed_memory_back_while_it_runs_and_stops_when_closed(monkeypatch):
    trims = threading.Semaphore(0)

    class Libc:  # glibc's two calls, counted
        def mallopt(self, parameter: int, value: int) -> int:
            return 1

        def malloc_trim(self, pad: int) -> int:
            trims.release()
            return 1

    monkeypatch.setattr(memory, "_libc", lambda: Libc())
    monkeypatch.setattr(memory, "TRIM_EVERY_SECONDS", 0.01)
    context = SyncContext(Settings.from_env({"STRIPE_API_KEY": "sk_test_memory"}))
    assert context.executor is not None  # the sync's threads start, and with them the trimming
    assert trims.acquire(timeout=5) and trims.acquire(timeout=5)  # more than once: every TRIM_EVERY_SECONDS
    context.close()
    # A long-lived process (Dagster's) runs sync after sync: none may leave its trimming thread behind.
    assert [t for t in threading.enumerate() if t.name == memory.TRIM_THREAD_NAME] == []
