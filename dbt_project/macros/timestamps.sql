{#
    Timestamps: Stripe sends unix seconds; the contract wants UTC `timestamp` columns (without time zone),
    independent of the session's time zone setting.
#}

{% macro epoch_to_timestamp(epoch_seconds) -%}
    {{ return(adapter.dispatch('epoch_to_timestamp')(epoch_seconds)) }}
{%- endmacro %}

{% macro default__epoch_to_timestamp(epoch_seconds) -%}
    {{ dbt.dateadd('second', epoch_seconds, "cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}

{% macro duckdb__epoch_to_timestamp(epoch_seconds) -%}
    {#- make_timestamp(microseconds) returns a plain TIMESTAMP, so the session TimeZone plays no part. -#}
    make_timestamp(cast({{ epoch_seconds }} as {{ dbt.type_bigint() }}) * 1000000)
{%- endmacro %}

{% macro postgres__epoch_to_timestamp(epoch_seconds) -%}
    (to_timestamp({{ epoch_seconds }}) at time zone 'UTC')
{%- endmacro %}


{# A `timestamp with time zone` (e.g. the ingester's synced_at) as a UTC `timestamp`. #}
{% macro to_utc_timestamp(timestamp_tz) -%}
    {{ return(adapter.dispatch('to_utc_timestamp')(timestamp_tz)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(timestamp_tz) -%}
    ({{ timestamp_tz }} at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__to_utc_timestamp(timestamp_tz) -%}
    timezone('UTC', {{ timestamp_tz }})
{%- endmacro %}
