{#
    The select of a staging model's source CTE: every column of the raw Stripe table `relation` (a
    `source('stripe_raw', ...)`), the JSON fields the model reads, and optionally the currency's exponent.

    - `fields`: every path the model reads from object_json with json_text or a typed helper (json_bigint,
      json_timestamp, ...); `json_fields`: every path it reads as JSON (json_fragment, json_array_sum's array).
      Each is extracted once per row (json_fields_select, see macros/json.sql), in the order given.
    - `currency_exponents`: `ref('currency_exponents')` to add `currency_exponent`, the exponent of the object's
      `currency` from that seed (null when the object has no currency or the seed lacks it; to_major_units then
      defaults it to 2). The join reads `currency`, which must then be one of `fields`.

    The model passes source() and ref() itself, so its parents are in its own SQL.
#}
{% macro stripe_source(relation, fields, json_fields=[], currency_exponents=none) -%}
    {%- if currency_exponents is not none and 'currency' not in fields -%}
        {{ exceptions.raise_compiler_error("stripe_source joins currency_exponents on `currency`: list 'currency' in fields") }}
    {%- endif -%}
    select
        source.*
        {%- if currency_exponents is not none %},
        currency_exponents.exponent as currency_exponent
        {%- endif %}
    from (
        {{ json_fields_select(relation, fields, json_fields) | indent(8) }}
    ) as source
    {%- if currency_exponents is not none %}
    left join {{ currency_exponents }} as currency_exponents
        on currency_exponents.currency = {{ json_text('source.object_json', 'currency') }}
    {%- endif %}
{%- endmacro %}
