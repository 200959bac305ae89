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


{#
    Days and months are cut in the reporting time zone, the var `stripe_reporting_timezone` (an IANA name such
    as 'Europe/Paris'; default UTC, as Stripe's dashboard reports a platform in its own zone). Timestamps stay
    UTC everywhere: only where a timestamp is cut into a day or a month does it first become local time
    (to_reporting_time), and a local boundary goes back to UTC (from_reporting_time) before it is compared with
    UTC timestamps. With UTC both render the expression unchanged. `at time zone` on a zone-less timestamp reads
    it in that zone, on a zoned one gives that zone's wall time: the same in DuckDB (ICU) and Postgres.
    An unknown zone name fails the model on the warehouse, naming the zone.
#}

{% macro reporting_timezone() -%}
    {%- set zone = (var('stripe_reporting_timezone', 'UTC') or 'UTC') | string | trim -%}
    {%- if "'" in zone or zone == '' -%}
        {{ exceptions.raise_compiler_error(
            "stripe_reporting_timezone must be an IANA time zone name such as 'Europe/Paris', not \"" ~ zone
            ~ "\". Fix the var in dbt_project.yml or --vars."
        ) }}
    {%- endif -%}
    {{ return(zone) }}
{%- endmacro %}

{# A UTC `timestamp` as the wall time of the reporting time zone. #}
{% macro to_reporting_time(utc_timestamp) -%}
    {%- set zone = reporting_timezone() -%}
    {%- if zone | upper == 'UTC' -%}
    {{ utc_timestamp }}
    {%- else -%}
    ((({{ utc_timestamp }}) at time zone 'UTC') at time zone '{{ zone }}')
    {%- endif -%}
{%- endmacro %}

{# A wall time of the reporting time zone as a UTC `timestamp`. #}
{% macro from_reporting_time(local_timestamp) -%}
    {%- set zone = reporting_timezone() -%}
    {%- if zone | upper == 'UTC' -%}
    {{ local_timestamp }}
    {%- else -%}
    ((({{ local_timestamp }}) at time zone '{{ zone }}') at time zone 'UTC')
    {%- endif -%}
{%- endmacro %}

{# The reporting time zone's day (or month, ...) of a UTC `timestamp`, as a date. #}
{% macro reporting_date_trunc(datepart, utc_timestamp) -%}
    cast({{ dbt.date_trunc(datepart, to_reporting_time(utc_timestamp)) }} as date)
{%- endmacro %}
