{#
    The select of a staging model's `source` CTE: every column of the raw Stripe table, plus (on DuckDB) the
    model's JSON fields extracted in one parse (json_parsed_columns, see macros/json.sql).
    It calls source() itself, so the model keeps the raw table as its parent.
#}
{% macro stripe_source(table_name) -%}
    select
        source.*{{ json_parsed_columns('source.object_json') }}
    from {{ source('stripe_raw', table_name) }} as source
{%- endmacro %}


{#
    The select of a staging model's `source_with_exponent` CTE: every column of the raw Stripe table (with the
    parsed fields of stripe_source) plus `currency_exponent`, the exponent of the object's `currency` from the
    currency_exponents seed (null when the object has no currency or the seed lacks it; to_major_units then
    defaults it to 2).

    It calls source() and ref() itself, so the model keeps the raw table and the seed as its parents.
#}
{% macro stripe_source_with_currency_exponent(table_name) -%}
    select
        source.*,
        currency_exponents.exponent as currency_exponent
    from ({{ stripe_source(table_name) }}) as source
    left join {{ ref('currency_exponents') }} as currency_exponents
        on currency_exponents.currency = {{ json_text('source.object_json', 'currency') }}
{%- endmacro %}
