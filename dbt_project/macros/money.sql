{#
    Minor units (what Stripe sends) to major units: amount / 10^exponent, where the exponent comes from the
    `currency_exponents` seed (0 for zero-decimal currencies such as JPY, 3 for BHD, JOD, KWD, OMR, TND)
    and is 2 for every currency the seed does not list.

    Shape: the model left-joins the seed once on currency (a hash join against a few dozen rows, cheap at
    millions of rows) and passes the joined exponent column here. A correlated lookup per amount column
    would run once per row and column on Postgres; a compile-time `case` would need run_query against the
    warehouse and so break `dbt parse` without a database.

    The result is exact decimal arithmetic, never a float: numeric(28, 6).
#}

{% macro to_major_units(amount, exponent) -%}
    {{ return(adapter.dispatch('to_major_units')(amount, exponent)) }}
{%- endmacro %}

{% macro default__to_major_units(amount, exponent) -%}
    cast(
        cast({{ amount }} as numeric) / power(cast(10 as numeric), coalesce({{ exponent }}, 2))
        as {{ dbt.type_numeric() }}
    )
{%- endmacro %}

{% macro duckdb__to_major_units(amount, exponent) -%}
    {#- DuckDB divides decimals as doubles (1234567890123.45 would come back as ...449856), so multiply by
        the exact decimal factor 10^-exponent instead: decimal times decimal stays decimal. -#}
    cast(
        cast({{ amount }} as decimal(38, 12))
        * cast(1 / power(10, coalesce({{ exponent }}, 2)) as decimal(10, 6))
        as {{ dbt.type_numeric() }}
    )
{%- endmacro %}
