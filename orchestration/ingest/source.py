"""The dlt source: one resource per Stripe object, over every configured account."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache

import dlt
import pyarrow as pa
from dlt.extract.resource import DltResource

from orchestration.ingest.client import StripeReader
from orchestration.ingest.raw_rows import PRIMARY_KEY, RAW_SCHEMA, raw_table
from orchestration.ingest.stripe_objects import STRIPE_OBJECTS, StripeObject
from orchestration.settings import Settings

log = logging.getLogger(__name__)

SOURCE_NAME = "stripe"


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def stripe_source(settings: Settings | None = None) -> Iterator[DltResource]:
    """Every Stripe object of every configured account.

    Building the source reads nothing: settings and accounts are resolved when the first resource is
    iterated, so Dagster can load the definitions without secrets or network.
    """

    @cache
    def readers() -> tuple[StripeReader, ...]:
        resolved = settings or Settings.from_env()
        return tuple(
            StripeReader(resolved.stripe_api_base, credential, max_network_retries=resolved.max_network_retries)
            for credential in resolved.require_credentials()
        )

    for obj in STRIPE_OBJECTS:
        yield _object_resource(obj, readers)


def _object_resource(obj: StripeObject, readers) -> DltResource:
    # Merge on (account_id, id): ids are unique per account only (plan and coupon ids are user-chosen),
    # and reloading an object replaces its row instead of duplicating it.
    @dlt.resource(
        name=obj.table,
        write_disposition="merge",
        primary_key=PRIMARY_KEY,
        columns=RAW_SCHEMA,
    )
    def read_object() -> Iterator[pa.Table]:
        # The table exists even for an account with none of these objects, so dbt's sources resolve.
        yield dlt.mark.materialize_table_schema()
        for reader in readers():
            synced_at = datetime.now(UTC)
            rows = 0
            for params in obj.passes:
                for page in reader.list_pages(obj.list_path, params):
                    rows += len(page)
                    yield raw_table(reader.account_id, page, synced_at)
            log.info("%s: %d rows from %s", obj.table, rows, reader.account_id)

    read_object.__doc__ = obj.description
    return read_object
