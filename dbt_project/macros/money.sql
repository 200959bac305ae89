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


{#
    A major-unit amount rounded half away from zero to the currency's minor unit: `exponent` decimals (from the
    `currency_exponents` seed; 2 when null), as ARR and other money metrics are shown. Exact decimal arithmetic
    on every warehouse. DuckDB takes the number of decimals of round() only as a constant, so there is one
    branch per exponent ISO 4217 knows (0 to 4; Stripe's currencies use 0, 2 and 3); any other keeps the
    amount as it is. The result is numeric(28, 6) like every money column, its last decimals zeros.
#}
{% macro round_to_minor_unit(amount, exponent) -%}
    {#- Each branch cast on its own (DuckDB can give a case of decimals of different scales the scale of the
        first, 36.18 coming back as 36), and the case too (Postgres drops the numeric's scale from its type). -#}
    cast(
        case coalesce({{ exponent }}, 2)
            {%- for decimals in range(5) %}
            when {{ decimals }} then cast(round({{ amount }}, {{ decimals }}) as {{ dbt.type_numeric() }})
            {%- endfor %}
            else cast({{ amount }} as {{ dbt.type_numeric() }})
        end
        as {{ dbt.type_numeric() }}
    )
{%- endmacro %}
