import json
from datetime import UTC, datetime

from orchestration.ingest.raw_rows import RAW_SCHEMA, raw_table


def test_raw_rows_keep_the_whole_object_and_type_the_keys():
    synced_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    objects = [
        {"id": "cus_1", "object": "customer", "created": 1700000000, "address": {"city": "Paris"}},
        {"id": "cus_2", "object": "customer", "deleted": True},
    ]
    table = raw_table("acct_1", objects, synced_at)
    assert table.schema == RAW_SCHEMA
    rows = table.to_pylist()
    assert [r["account_id"] for r in rows] == ["acct_1", "acct_1"]
    assert [r["created"] for r in rows] == [1700000000, None]
    assert [r["parent_id"] for r in rows] == [None, None]
    assert [r["is_deleted"] for r in rows] == [False, True]
    assert rows[0]["synced_at"] == synced_at
    assert json.loads(rows[0]["object_json"]) == objects[0]


def test_child_rows_name_their_parent():
    table = raw_table("acct_1", [{"id": "cnli_1", "object": "credit_note_line_item"}], datetime.now(UTC), "cn_1")
    assert table.column("parent_id").to_pylist() == ["cn_1"]
