"""The dlt pipeline that writes the raw Stripe tables into the configured warehouse."""

from __future__ import annotations

import dlt
from dlt.common.configuration.specs import ConnectionStringCredentials

from orchestration.settings import Settings

PIPELINE_NAME = "stripe"
RAW_DATASET = "stripe_raw"


def stripe_pipeline(settings: Settings) -> dlt.Pipeline:
    """The pipeline for the configured warehouse; creating it reads and writes nothing remote."""
    if settings.warehouse == "postgres":
        pg = settings.postgres
        credentials = ConnectionStringCredentials(
            {
                "drivername": "postgresql",
                "host": pg["host"],
                "port": int(pg["port"]),
                "username": pg["user"],
                "password": pg["password"] or None,
                "database": pg["database"],
            }
        )
        destination = dlt.destinations.postgres(credentials=credentials)
    else:
        destination = dlt.destinations.duckdb(credentials=str(settings.duckdb_path))
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination,
        dataset_name=RAW_DATASET,
        pipelines_dir=str(settings.data_dir / "dlt_pipelines"),
        progress=dlt.progress.log(dump_system_stats=False),
    )
