{#
    Reading fields out of JSON text, such as the raw `object_json` column (the Stripe object as JSON text).

    Paths are dotted Stripe field names, e.g. 'payment_method_details.card.brand'; an all-digit segment is an
    array index ('lines.data.0.id'). A missing key and a JSON null both give SQL null, so deleted-object
    stubs ({"id", "object", "deleted"}) simply yield nulls.

    Two kinds of column are read:
    - `object_json`, in a staging model. Its fields are extracted once, in the model's source CTE, by
      stripe_source (macros/stripe_source.sql) from the lists of paths the model passes it: each becomes a
      column named after its path, "object_json->>path" (the value as text) or "object_json->path" (the
      JSON value), and the macros below read that column. A path the lists lack is an error when the model
      runs ("column not found"), on every warehouse.
    - any other JSON text column (an event's data_object, an element of a JSON array): the path is extracted
      where it is read.

    Why the lists: DuckDB has no parsed JSON type, so every extraction parses the whole document again, and a
    staging model reading 40 fields of a 4 kB invoice parsed each invoice 40 times (95 s of the benchmark's
    build). DuckDB parses a document once when one call extracts a list of paths: json_fields_select makes
    that one call per kind. Postgres casts the text to jsonb per field either way.
#}

{% macro json_text(column, path) -%}
    {%- if _is_object_json(column) -%}
    {{ _json_field_column(column, path, 'text') }}
    {%- else -%}
    {{ return(adapter.dispatch('json_text')(column, path)) }}
    {%- endif -%}
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
    nullif(cast({{ json_value(column, path) }} as {{ dbt.type_string() }}), 'null')
{%- endmacro %}


{#
    The JSON value at `path`, typed as the warehouse's JSON (DuckDB json, Postgres jsonb): 'null' for a JSON
    null, SQL null when missing. What json_fragment serializes and json_array_sum sums over.
#}
{% macro json_value(column, path) -%}
    {%- if _is_object_json(column) -%}
    {{ _json_field_column(column, path, 'json') }}
    {%- else -%}
    {{ return(adapter.dispatch('json_value')(column, path)) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__json_value(column, path) -%}
    {{ exceptions.raise_compiler_error("json_value is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_value(column, path) -%}
    json_extract({{ column }}, '{{ _duckdb_json_path(path) }}')
{%- endmacro %}

{% macro postgres__json_value(column, path) -%}
    (cast({{ column }} as jsonb) #> '{{ _postgres_json_path(path) }}')
{%- endmacro %}


{#
    Sum of the integer field `field` over the elements of the array at `array_path`, as bigint:
    0 for an empty array, null when the array itself is missing or null (e.g. a deleted-object stub).
    Used for Stripe's lists of amounts such as invoice.total_discount_amounts[].amount. The array is
    extracted once (json_value); the sum then reads only the array.
#}
{% macro json_array_sum(column, array_path, field) -%}
    {{ return(adapter.dispatch('json_array_sum')(json_value(column, array_path), field)) }}
{%- endmacro %}

{% macro default__json_array_sum(array, field) -%}
    {{ exceptions.raise_compiler_error("json_array_sum is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_array_sum(array, field) -%}
    case
        when json_type({{ array }}) = 'ARRAY'
            then cast(coalesce(list_sum(cast(
                json_extract({{ array }}, '$[*]{{ _duckdb_json_path(field) | replace('$', '', 1) }}')
                as {{ dbt.type_bigint() }}[]
            )), 0) as {{ dbt.type_bigint() }})
    end
{%- endmacro %}

{% macro postgres__json_array_sum(array, field) -%}
    case
        when jsonb_typeof({{ array }}) = 'array'
            then (
                select cast(coalesce(sum(cast(array_element #>> '{{ _postgres_json_path(field) }}' as {{ dbt.type_bigint() }})), 0) as {{ dbt.type_bigint() }})
                from jsonb_array_elements({{ array }}) as array_elements (array_element)
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
    places, which dbt's numeric(28, 6) would round: numeric(28, 12) keeps them exact on DuckDB and Postgres.
    Its 16 integer digits leave ample room: Stripe's amounts have up to eight digits in minor units
    (https://docs.stripe.com/api/charges/object#charge_object-amount). The precision stays at 28 like every
    numeric of the contracts: BI drivers choke on more (.NET's decimal, behind Power BI and Excel, holds 28 to
    29 digits).
#}
{% macro json_numeric_exact(column, path) -%}
    cast({{ json_text(column, path) }} as numeric(28, 12))
{%- endmacro %}

{% macro json_boolean(column, path) -%}
    cast({{ json_text(column, path) }} as {{ dbt.type_boolean() }})
{%- endmacro %}

{# A Stripe timestamp field (unix seconds) as a UTC timestamp. #}
{% macro json_timestamp(column, path) -%}
    {{ epoch_to_timestamp(json_bigint(column, path)) }}
{%- endmacro %}


{#
    The select of `relation` (a table with a JSON text column `object_json`) with each path of `fields`
    extracted as text into the column "object_json->>path", and each of `json_fields` as a JSON value into
    "object_json->path": what json_text and json_value read in a staging model. stripe_source calls it.
#}
{% macro json_fields_select(relation, fields, json_fields) -%}
    {%- for paths in [fields, json_fields] -%}
        {%- for path in paths -%}
            {%- if path is not string or path == '' -%}
                {{ exceptions.raise_compiler_error("A JSON field is a dotted path such as 'address.country', not " ~ path) }}
            {%- endif -%}
            {%- if paths[:loop.index0] | select('equalto', path) | list -%}
                {{ exceptions.raise_compiler_error("The JSON field '" ~ path ~ "' is listed twice") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(adapter.dispatch('json_fields_select')(relation, fields, json_fields)) }}
{%- endmacro %}

{% macro default__json_fields_select(relation, fields, json_fields) -%}
    {#- The adapter's own extraction: json_text and json_value of object_json would name these columns. -#}
    select
        raw.*
        {%- for path in fields %},
        {{ adapter.dispatch('json_text')('raw.object_json', path) }} as {{ _json_field_name(path, 'text') }}
        {%- endfor %}
        {%- for path in json_fields %},
        {{ adapter.dispatch('json_value')('raw.object_json', path) }} as {{ _json_field_name(path, 'json') }}
        {%- endfor %}
    from {{ relation }} as raw
{%- endmacro %}

{% macro duckdb__json_fields_select(relation, fields, json_fields) -%}
    {#- One parse per kind: the list extraction is a column of the inner select, each field an element of it. -#}
    select
        parsed.*
        {%- for path in fields %},
        parsed.object_json__texts[{{ loop.index }}] as {{ _json_field_name(path, 'text') }}
        {%- endfor %}
        {%- for path in json_fields %},
        parsed.object_json__values[{{ loop.index }}] as {{ _json_field_name(path, 'json') }}
        {%- endfor %}
    from (
        select
            raw.*
            {%- if fields %},
            json_extract_string(raw.object_json, {{ _duckdb_json_path_list(fields) }}) as object_json__texts
            {%- endif %}
            {%- if json_fields %},
            json_extract(raw.object_json, {{ _duckdb_json_path_list(json_fields) }}) as object_json__values
            {%- endif %}
        from {{ relation }} as raw
    ) as parsed
{%- endmacro %}


{# `column` is the raw object_json, bare or qualified ('object_json', 'source.object_json'). #}
{% macro _is_object_json(column) -%}
    {{ return(column.split('.')[-1] == 'object_json') }}
{%- endmacro %}

{# The column json_fields_select extracted `path` of object_json into, qualified as `column` is. #}
{% macro _json_field_column(column, path, kind) -%}
    {%- set qualifier = column[:-('object_json' | length)] -%}
    {{ qualifier }}{{ _json_field_name(path, kind) }}
{%- endmacro %}

{% macro _json_field_name(path, kind) -%}
    "object_json{{ '->>' if kind == 'text' else '->' }}{{ path }}"
{%- endmacro %}


{# Path builders. Keys are quoted for DuckDB so that any Stripe key is safe; digits become array indexes. #}
{% macro _duckdb_json_path(path) -%}
    ${% for segment in path.split('.') %}{% if segment.isdigit() %}[{{ segment }}]{% else %}."{{ segment }}"{% endif %}{% endfor %}
{%- endmacro %}

{% macro _postgres_json_path(path) -%}
    {{ '{' ~ path.split('.') | join(',') ~ '}' }}
{%- endmacro %}

{% macro _duckdb_json_path_list(paths) -%}
    [{% for path in paths %}'{{ _duckdb_json_path(path) }}'{% if not loop.last %}, {% endif %}{% endfor %}]
{%- endmacro %}
