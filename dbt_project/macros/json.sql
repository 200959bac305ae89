{#
    Reading fields out of the raw `object_json` column (the Stripe object as JSON text).

    Paths are dotted Stripe field names, e.g. 'payment_method_details.card.brand'; an all-digit segment is an
    array index ('lines.data.0.id'). A missing key and a JSON null both give SQL null, so deleted-object
    stubs ({"id", "object", "deleted"}) simply yield nulls.

    Only json_text, json_fragment and json_array_sum differ per warehouse; the typed helpers are casts of
    json_text and so are portable as they are.

    Cost on DuckDB: it has no parsed JSON type, so every extraction parses the whole document again, and a
    staging model reading 40 fields of a 4 kB invoice parsed each invoice 40 times (95 s of the benchmark's
    build). DuckDB parses a document once when one call extracts a list of paths. So a staging model's source
    CTE (stripe_source, stripe_source_with_currency_exponent) extracts, once, every path the model's own SQL
    reads from object_json (found there by _json_paths_in_model) into two list columns, and each field is an
    element of them. Elsewhere a field is element k of one list extraction repeated in the select list, which
    DuckDB computes once per row (common subexpressions); a path the SQL does not spell out (one built by a
    macro) is extracted on its own.
#}

{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    {{ exceptions.raise_compiler_error("json_text is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    {%- set parsed = _duckdb_parsed_element(column, path, 'text') -%}
    {%- if parsed -%}
    {{ parsed }}
    {%- else -%}
    json_extract_string({{ column }}, '{{ _duckdb_json_path(path) }}')
    {%- endif -%}
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
    nullif(cast({{ _duckdb_json_value(column, path) }} as {{ dbt.type_string() }}), 'null')
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
    {#- The array is extracted once (an element of the model's fragment list when it has one); the sum then
        parses only the array. -#}
    {%- set array = _duckdb_json_value(column, array_path) -%}
    case
        when json_type({{ array }}) = 'ARRAY'
            then cast(coalesce(list_sum(cast(
                json_extract({{ array }}, '$[*]{{ _duckdb_json_path(field) | replace('$', '', 1) }}')
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


{#
    The select-list additions of a staging model's source CTE (see the header): on DuckDB, `object_json__texts`
    and `object_json__fragments`, every path of kind text and fragment the model reads from object_json,
    extracted in one parse each; nothing on other warehouses, whose json macros read object_json itself.
#}
{% macro json_parsed_columns(column) -%}
    {{ return(adapter.dispatch('json_parsed_columns')(column)) }}
{%- endmacro %}

{% macro default__json_parsed_columns(column) -%}
{%- endmacro %}

{% macro duckdb__json_parsed_columns(column) -%}
    {%- for kind, function in [('text', 'json_extract_string'), ('fragment', 'json_extract')] -%}
        {%- set paths = _json_paths_in_model(column, kind) -%}
        {%- if paths -%}
        , {{ function }}({{ column }}, {{ _duckdb_json_path_list(paths) }}) as object_json__{{ kind }}s
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}


{#
    The paths the SQL of the model being compiled reads from `column` with the json_text family ('text':
    json_text and its typed helpers) or as JSON ('fragment': json_fragment, and json_array_sum's array), in
    order of first use, without repeats. Read from the model's raw SQL, so a model needs no list of its own;
    empty outside a model. For the raw object_json, however a CTE qualifies it ('object_json',
    'source.object_json'), the paths under every spelling count, and a staging source CTE's currency join adds
    'currency'.
#}
{% macro _json_paths_in_model(column, kind) -%}
    {%- set raw_code = model.raw_code if model is defined and model.raw_code is defined else '' -%}
    {%- set is_raw = column.split('.')[-1] == 'object_json' -%}
    {%- set column_pattern = '(?:\\w+\\.)?object_json' if is_raw else modules.re.escape(column) -%}
    {%- if kind == 'fragment' -%}
        {%- set functions = '(?:json_fragment|json_array_sum)' -%}
    {%- else -%}
        {%- set functions = 'json_(?:text|bigint|numeric_exact|numeric|boolean|timestamp)' -%}
    {%- endif -%}
    {%- set pattern = '\\b' ~ functions ~ "\\(\\s*'" ~ column_pattern ~ "'\\s*,\\s*'([^']+)'" -%}
    {%- set paths = [] -%}
    {%- if is_raw and kind == 'text' and 'stripe_source_with_currency_exponent' in raw_code -%}
        {%- do paths.append('currency') -%}
    {%- endif -%}
    {%- for found in modules.re.findall(pattern, raw_code or '') -%}
        {%- if found not in paths -%}{%- do paths.append(found) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(paths) }}
{%- endmacro %}

{#
    Element k of the model's list extraction of `path` from `column`, or none when the model's SQL does not
    read that path: the list column of the staging source CTE for object_json in a model that has one, else
    the list extraction itself (computed once per row as a common subexpression).
#}
{% macro _duckdb_parsed_element(column, path, kind) -%}
    {%- set paths = _json_paths_in_model(column, kind) -%}
    {%- if path not in paths -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set raw_code = model.raw_code if model is defined and model.raw_code is defined else '' -%}
    {%- set index = paths.index(path) + 1 -%}
    {%- if column.split('.')[-1] == 'object_json' and 'stripe_source' in raw_code -%}
        {{ return(column ~ '__' ~ kind ~ 's[' ~ index ~ ']') }}
    {%- endif -%}
    {%- set function = 'json_extract' if kind == 'fragment' else 'json_extract_string' -%}
    {{ return(function ~ '(' ~ column ~ ', ' ~ _duckdb_json_path_list(paths) ~ ')[' ~ index ~ ']') }}
{%- endmacro %}

{# The JSON value at `path` (type JSON, 'null' for a JSON null, SQL null when missing). #}
{% macro _duckdb_json_value(column, path) -%}
    {%- set parsed = _duckdb_parsed_element(column, path, 'fragment') -%}
    {%- if parsed -%}
    {{ parsed }}
    {%- else -%}
    json_extract({{ column }}, '{{ _duckdb_json_path(path) }}')
    {%- endif -%}
{%- endmacro %}

{% macro _duckdb_json_path_list(paths) -%}
    [{% for path in paths %}'{{ _duckdb_json_path(path) }}'{% if not loop.last %}, {% endif %}{% endfor %}]
{%- endmacro %}
