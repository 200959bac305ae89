"""Checks that an object has the keys and nesting of Stripe's sample of its type."""

from __future__ import annotations

from typing import Any

from orchestration.simulator.templates import EXTRA_NESTED_KEYS, OMITTED_KEYS, samples

# Nested values that are objects of another type (their sample is the authority, not the parent's).
_TYPED_FIELDS = {("subscription_item", "price"): "price", ("subscription_item", "plan"): "plan"}
# Lists whose sample is empty, and the type of their elements.
_ELEMENT_KINDS = {("charge", "refunds.data"): "refund", ("dispute", "balance_transactions"): "balance_transaction"}


def shape_errors(obj: dict[str, Any], kind: str | None = None) -> list[str]:
    """Differences between `obj` and the sample of its type (default: its `object`), as readable paths.

    Keys must match exactly wherever both the object and the sample have a dict, except free-form
    `metadata` and the documented `EXTRA_NESTED_KEYS`; a null where the sample has an object is allowed
    (Stripe's nullable sub-objects), and lists are checked element by element against the sample's first.
    """
    kind = kind or obj["object"]
    return _compare(obj, samples()[kind], kind, kind)


def _compare(value: Any, sample: Any, kind: str, path: str) -> list[str]:
    if isinstance(sample, dict) and isinstance(value, dict):
        return _compare_dicts(value, sample, kind, path)
    if isinstance(sample, list) and isinstance(value, list):
        return _compare_lists(value, sample, kind, path)
    if sample is not None and value is not None and isinstance(sample, dict | list) != isinstance(value, dict | list):
        return [f"{path}: {type(value).__name__} where the sample has {type(sample).__name__}"]
    return []


def _compare_dicts(value: dict[str, Any], sample: dict[str, Any], kind: str, path: str) -> list[str]:
    errors = []
    extra = EXTRA_NESTED_KEYS.get((kind, path.rsplit(".", 1)[-1]), frozenset()) if path != kind else frozenset()
    omitted = OMITTED_KEYS.get(kind, frozenset()) if path == kind else frozenset()
    if missing := sample.keys() - value.keys() - omitted:
        errors.append(f"{path}: missing {sorted(missing)}")
    if unexpected := value.keys() - sample.keys() - extra:
        errors.append(f"{path}: unexpected {sorted(unexpected)}")
    for name in sample.keys() & value.keys():
        if name == "metadata":  # free-form: the sample's keys are an example
            continue
        typed = _TYPED_FIELDS.get((kind, name)) if path == kind else None
        if typed is not None and value[name] is not None:
            errors += _compare(value[name], samples()[typed], typed, typed)
        elif kind == "event" and path == kind and name == "data":
            errors += [f"event.data.object/{error}" for error in shape_errors(value[name]["object"])]
        else:
            errors += _compare(value[name], sample[name], kind, f"{path}.{name}")
    return errors


def _compare_lists(value: list[Any], sample: list[Any], kind: str, path: str) -> list[str]:
    element_kind = _ELEMENT_KINDS.get((kind, path.removeprefix(f"{kind}.")))
    if element_kind is not None:
        return [error for element in value for error in shape_errors(element, element_kind)]
    if not sample or not isinstance(sample[0], dict):
        return []
    errors = []
    for element in value:
        if isinstance(element, dict) and "object" in element and "object" in sample[0]:
            errors += shape_errors(element)  # an embedded object: checked against its own type's sample
        else:
            errors += _compare(element, sample[0], kind, f"{path}[]")
    return errors
