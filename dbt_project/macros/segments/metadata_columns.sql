{#
    The metadata keys a deployment segments by, as typed columns: `metadata_<key>` for every key the var
    `stripe_metadata_keys` lists under `object` (customer, subscription, product or price), e.g.

        vars:
          stripe_metadata_keys:
            customer: {segment: text, seats: bigint}
            product: {tier: text}

    Stripe's metadata values are always strings (https://docs.stripe.com/api/metadata): a typed key is cast,
    so a value that does not read as its type fails the build, naming the value; declare the key as text to
    keep such values. Empty strings read as null. Renders nothing (not even a comma) when the object has no
    keys, so the caller writes `{{ metadata_columns('customer', 'customers.metadata') }}` after its last
    column's comma-less line: each column brings its own leading comma.
#}

{% macro metadata_columns(object, metadata_column) -%}
    {%- for key, data_type in _metadata_keys(object).items() %}
        , cast(
            nullif({{ json_text(metadata_column, key) }}, '') as {{ _metadata_type(object, key, data_type) }}
        ) as {{ _metadata_column_name(object, key) }}
    {%- endfor %}
{%- endmacro %}


{# metadata_<key>, lower case, with the separators keys commonly use (-, space, :) as underscores. A dot would read as a
   nested path, and Stripe's metadata is flat, so it is refused with the rest. #}
{% macro _metadata_column_name(object, key) -%}
    {%- set name = 'metadata_' ~ (key | lower | replace('-', '_') | replace(' ', '_') | replace(':', '_')) -%}
    {%- if not (name | replace('_', '')).isalnum() -%}
        {{ exceptions.raise_compiler_error(
            "stripe_metadata_keys." ~ object ~ " lists the key '" ~ key ~ "', which cannot name a column: use "
            ~ "letters, digits, '_', '-', ' ' or ':' only. Fix the var in dbt_project.yml or --vars."
        ) }}
    {%- endif -%}
    {{ return(name) }}
{%- endmacro %}


{% macro _metadata_keys(object) -%}
    {%- set objects = var('stripe_metadata_keys', {}) or {} -%}
    {%- set known = ['customer', 'subscription', 'product', 'price'] -%}
    {%- for name in objects -%}
        {%- if name not in known -%}
            {{ exceptions.raise_compiler_error(
                "stripe_metadata_keys lists '" ~ name ~ "': the objects it can segment are " ~ known | join(', ')
                ~ ". Fix the var in dbt_project.yml or --vars."
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set keys = objects.get(object) or {} -%}
    {%- if keys is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "stripe_metadata_keys." ~ object ~ " must map each metadata key to a type, e.g. {segment: text}; got "
            ~ keys ~ ". Fix the var in dbt_project.yml or --vars."
        ) }}
    {%- endif -%}
    {{ return(keys) }}
{%- endmacro %}


{% macro _metadata_type(object, key, data_type) -%}
    {%- set types = {
        'text': dbt.type_string(), 'string': dbt.type_string(), 'bigint': dbt.type_bigint(),
        'integer': dbt.type_bigint(), 'numeric': dbt.type_numeric(), 'boolean': dbt.type_boolean(),
        'date': 'date', 'timestamp': dbt.type_timestamp()
    } -%}
    {%- if data_type not in types -%}
        {{ exceptions.raise_compiler_error(
            "stripe_metadata_keys." ~ object ~ "." ~ key ~ " has type '" ~ data_type ~ "': use one of "
            ~ types.keys() | list | join(', ') ~ ". Fix the var in dbt_project.yml or --vars."
        ) }}
    {%- endif -%}
    {{ return(types[data_type]) }}
{%- endmacro %}
