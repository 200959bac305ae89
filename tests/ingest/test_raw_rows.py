import json
from datetime import UTC, datetime

from orchestration.ingest.lazy_json import is_array, is_object, object_json, parse_lazily
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


def test_only_a_deleted_stub_is_deleted_not_an_object_holding_one():
    page = parse_lazily(
        b'{"data":[{"id":"in_1","discount":{"id":"di_1","deleted":true},"deleted":false},'
        b'{"id":"in_2","lines":{"data":[{"id":"il_1","deleted":true}]}},'
        b'{"id":"cus_3","object":"customer","deleted":true}]}'
    )
    table = raw_table("acct_1", page["data"], datetime.now(UTC))
    assert table.column("is_deleted").to_pylist() == [False, False, True]


def test_child_rows_name_their_parent():
    table = raw_table("acct_1", [{"id": "cnli_1", "object": "credit_note_line_item"}], datetime.now(UTC), "cn_1")
    assert table.column("parent_id").to_pylist() == ["cn_1"]


def test_children_keyed_by_parent_have_the_pair_as_id():
    # A balance transaction read under a payout: the row is the pair, the object stays as Stripe sent it.
    balance = {"id": "txn_1", "object": "balance_transaction", "created": 1700000000}
    table = raw_table("acct_1", [balance], datetime.now(UTC), "po_1", keyed_by_parent=True)
    assert table.column("id").to_pylist() == ["po_1:txn_1"]
    assert table.column("parent_id").to_pylist() == ["po_1"]
    assert json.loads(table.column("object_json")[0].as_py()) == balance


def test_rows_of_a_lazily_parsed_page_equal_those_of_parsed_objects():
    # Stripe pretty-prints; numbers, unicode and nesting must survive taking the page's own text.
    objects = [
        {"id": "in_1", "created": 1700000000, "total": 1999, "tax_rate": 0.2, "name": "Zoë", "lines": {"data": []}},
        {"id": "in_2", "created": None, "deleted": True, "metadata": {"k": ["v", 1, None, True]}},
    ]
    page = parse_lazily(json.dumps({"object": "list", "data": objects, "has_more": False}, indent=2))
    synced_at = datetime.now(UTC)
    lazy = raw_table("acct_1", page["data"], synced_at).to_pylist()
    eager = raw_table("acct_1", objects, synced_at).to_pylist()
    assert [{**r, "object_json": json.loads(r["object_json"])} for r in lazy] == [
        {**r, "object_json": json.loads(r["object_json"])} for r in eager
    ]
    assert [json.loads(r["object_json"]) for r in lazy] == objects


def test_an_object_built_from_lazy_parts_is_written_in_full():
    # An event's object marked deleted: a dict whose values are still lazy.
    event = parse_lazily(json.dumps({"data": {"object": {"id": "si_1", "price": {"id": "price_1", "tiers": [1]}}}}))
    marked = {**event["data"]["object"], "deleted": True}
    assert json.loads(object_json(marked)) == {"id": "si_1", "price": {"id": "price_1", "tiers": [1]}, "deleted": True}
    assert is_array(event["data"]["object"]["price"]["tiers"]) and is_object(event["data"]["object"]["price"])
