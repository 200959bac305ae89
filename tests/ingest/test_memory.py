"""The sync's memory settings reach dlt and Arrow."""

import os
import subprocess
import sys

from dlt.common.configuration import resolve_configuration
from dlt.common.data_writers.buffered import BufferedDataWriter

from orchestration.ingest.pipeline import extract_settings
from orchestration.ingest.source import ROWS_PER_BATCH


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
