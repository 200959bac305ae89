"""Arrow tables waiting on disk: the batches of a read that goes on while another load runs (`source.TailReads`).

Each sync process spills into a folder of its own under the data folder, `tail_reads/<pid>-…`, deleted when the
sync is done with it. A process killed meanwhile (`kill -9`, an OOM kill) cannot delete its folder: the next
sync that reads the payouts with other objects deletes every folder whose process is gone, so nothing piles up
and nobody has to clean up by hand. The folders of live processes (parallel runs on Postgres share the data
folder) are left alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pyarrow as pa

log = logging.getLogger(__name__)

FOLDER = "tail_reads"


class SpillFolder:
    """This process's folder of spilled tables, under `data_dir`; made when the first table is spilled."""

    def __init__(self, data_dir: Path) -> None:
        self._parent = data_dir / FOLDER
        self._path: Path | None = None
        self._lock = threading.Lock()
        self._removed = False
        if self._parent.exists():
            remove_orphans(self._parent)

    def write(self, table: pa.Table) -> Path:
        """`table`, written to an Arrow file of its own."""
        file = tempfile.NamedTemporaryFile(dir=self._folder(), suffix=".arrow", delete=False)  # noqa: SIM115
        with file, pa.ipc.new_file(file, table.schema) as writer:
            writer.write_table(table)
        return Path(file.name)

    def _folder(self) -> Path:
        with self._lock:  # the tail's reads spill on threads of their own
            if self._removed:
                raise RuntimeError("the sync is over: nothing more is spilled")
            if self._path is None:
                self._parent.mkdir(parents=True, exist_ok=True)
                self._path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=self._parent))
            return self._path

    def remove(self) -> None:
        with self._lock:
            self._removed = True
            if self._path is not None:
                shutil.rmtree(self._path, ignore_errors=True)
                self._path = None


def read_back(path: Path) -> pa.Table:
    """The table of a file `SpillFolder.write` wrote; the file deleted."""
    with pa.ipc.open_file(path) as reader:
        table = reader.read_all()
    path.unlink()
    return table


def remove_orphans(parent: Path) -> None:
    """Deletes the folders under `parent` whose process is gone."""
    for folder in parent.iterdir():
        pid = folder.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            log.info("deleting %s, left by a sync that died (process %s)", folder, pid)
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
