"""The sync's memory settings reach dlt."""

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
