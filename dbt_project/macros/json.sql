{#
    Reading fields out of the raw `object_json` column (the Stripe object as JSON text).

    Paths are dotted Stripe field names, e.g. 'payment_method_details.card.brand'; an all-digit segment is an
    array index ('lines.data.0.id'). A missing key and a JSON null both give SQL null, so deleted-object
    stubs ({"id", "object", "deleted"}) simply yield nulls.

    Only json_text, json_fragment and json_array_sum differ per warehouse; the typed helpers are casts of
    json_text and so are portable as they are.
#}

{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    {{ exceptions.raise_compiler_error("json_text is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    json_extract_string({{ column }}, '{{ _duckdb_json_path(path) }}')
{%- endmacro %}

{% macro postgres__json_text(column, path) -%}
    (cast({{ column }} as jsonb) #>> '{{ _postgres_json_path(path) }}')
{%- endmacro %}


{# The JSON value at `path` (an object or array) serialized as JSON text; SQL null when missing or null. #}
{% macro json_fragment(column, path) -%}
    {{ return(adapter.dispatch('json_fragment')(column, path)) }}
{%- endmacro %}

{% macro default__json_fragment(column, path) -%}
    {{ exceptions.raise_compiler_error("json_fragment is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_fragment(column, path) -%}
    nullif(cast(json_extract({{ column }}, '{{ _duckdb_json_path(path) }}') as {{ dbt.type_string() }}), 'null')
{%- endmacro %}

{% macro postgres__json_fragment(column, path) -%}
    nullif(cast(cast({{ column }} as jsonb) #> '{{ _postgres_json_path(path) }}' as {{ dbt.type_string() }}), 'null')
{%- endmacro %}


{#
    Sum of the integer field `field` over the elements of the array at `array_path`, as bigint:
    0 for an empty array, null when the array itself is missing or null (e.g. a deleted-object stub).
    Used for Stripe's lists of amounts such as invoice.total_discount_amounts[].amount.
#}
{% macro json_array_sum(column, array_path, field) -%}
    {{ return(adapter.dispatch('json_array_sum')(column, array_path, field)) }}
{%- endmacro %}

{% macro default__json_array_sum(column, array_path, field) -%}
    {{ exceptions.raise_compiler_error("json_array_sum is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_array_sum(column, array_path, field) -%}
    case
        when json_type({{ column }}, '{{ _duckdb_json_path(array_path) }}') = 'ARRAY'
            then cast(coalesce(list_sum(cast(
                json_extract({{ column }}, '{{ _duckdb_json_path(array_path) }}[*]{{ _duckdb_json_path(field) | replace('$', '', 1) }}')
                as {{ dbt.type_bigint() }}[]
            )), 0) as {{ dbt.type_bigint() }})
    end
{%- endmacro %}

{% macro postgres__json_array_sum(column, array_path, field) -%}
    case
        when jsonb_typeof(cast({{ column }} as jsonb) #> '{{ _postgres_json_path(array_path) }}') = 'array'
            then (
                select cast(coalesce(sum(cast(array_element #>> '{{ _postgres_json_path(field) }}' as {{ dbt.type_bigint() }})), 0) as {{ dbt.type_bigint() }})
                from jsonb_array_elements(cast({{ column }} as jsonb) #> '{{ _postgres_json_path(array_path) }}') as array_elements (array_element)
            )
    end
{%- endmacro %}


{# Typed helpers: json_text cast to the type; all-portable through dbt's cross-database type macros. #}
{% macro json_bigint(column, path) -%}
    cast({{ json_text(column, path) }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro json_numeric(column, path) -%}
    cast({{ json_text(column, path) }} as {{ dbt.type_numeric() }})
{%- endmacro %}

{#
    Stripe's decimal strings (unit_amount_decimal, quantity_decimal) and exchange rates carry up to 12 decimal
    places, which dbt's numeric(28, 6) would round: numeric(38, 12) keeps them exact on DuckDB and Postgres.
#}
{% macro json_numeric_exact(column, path) -%}
    cast({{ json_text(column, path) }} as numeric(38, 12))
{%- endmacro %}

{% macro json_boolean(column, path) -%}
    cast({{ json_text(column, path) }} as {{ dbt.type_boolean() }})
{%- endmacro %}

{# A Stripe timestamp field (unix seconds) as a UTC timestamp. #}
{% macro json_timestamp(column, path) -%}
    {{ epoch_to_timestamp(json_bigint(column, path)) }}
{%- endmacro %}


{# Path builders. Keys are quoted for DuckDB so that any Stripe key is safe; digits become array indexes. #}
{% macro _duckdb_json_path(path) -%}
    ${% for segment in path.split('.') %}{% if segment.isdigit() %}[{{ segment }}]{% else %}."{{ segment }}"{% endif %}{% endfor %}
{%- endmacro %}

{% macro _postgres_json_path(path) -%}
    {{ '{' ~ path.split('.') | join(',') ~ '}' }}
{%- endmacro %}
