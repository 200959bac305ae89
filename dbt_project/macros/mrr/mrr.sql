{#
    Helpers of the MRR models (models/intermediate/int_stripe__*, marts/analytics/*mrr_monthly).
    The definition they implement is the docs block `mrr_definition` (models/intermediate/_int_stripe__docs.md).
#}


{#
    The instant the current month's MRR is evaluated at: the var `mrr_as_of`, by default the time of the run.
    Give it as unix seconds or as a UTC 'YYYY-MM-DD HH:MM:SS' for reproducible runs and tests:
    `dbt build --vars '{mrr_as_of: 1767225600}'`.
#}
{% macro mrr_as_of() -%}
    {%- set as_of = var('mrr_as_of', none) -%}
    {%- if as_of is none or as_of | string | trim == '' -%}
        {{ to_utc_timestamp(dbt.current_timestamp()) }}
    {%- elif as_of is number or (as_of | string | trim).isdigit() -%}
        {{ epoch_to_timestamp(as_of | string | trim) }}
    {%- else -%}
        cast('{{ as_of | string | trim }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}


{#
    Which coupon durations count against MRR, from the var `mrr_discounts`: `all` (default), `forever_only`
    (Stripe's dashboard default) or `none`. Returns a boolean SQL expression over the duration column.
#}
{% macro mrr_discount_duration_filter(duration_column) -%}
    {%- set mode = var('mrr_discounts', 'all') -%}
    {%- if mode == 'all' -%}
        {{ duration_column }} in ('once', 'repeating', 'forever')
    {%- elif mode == 'forever_only' -%}
        {{ duration_column }} = 'forever'
    {%- elif mode == 'none' -%}
        1 = 0
    {%- else -%}
        {{ exceptions.raise_compiler_error("var mrr_discounts must be one of all, forever_only, none; got '" ~ mode ~ "'") }}
    {%- endif -%}
{%- endmacro %}


{#
    An amount per billing interval (in the currency's minor unit) as a monthly amount in major units:
    day x 365/12, week x 52/12, month x 1, year / 12, each divided by the interval count, then / 10^exponent.
    Rounded once, to 6 decimals, so that every later sum is exact decimal arithmetic.
    Null for an unknown interval.
#}
{% macro mrr_normalise(amount, recurring_interval, interval_count, exponent) -%}
    {{ mrr_divide(
        '(' ~ amount ~ ') * case ' ~ recurring_interval
            ~ " when 'day' then 365 when 'week' then 52 when 'month' then 12 when 'year' then 1 end",
        '12 * coalesce(' ~ interval_count ~ ', 1) * cast(power(10, coalesce(' ~ exponent ~ ', 2)) as ' ~ dbt.type_bigint() ~ ')'
    ) }}
{%- endmacro %}


{#
    The percentage several percent_off discounts in effect at once take together, as an aggregate over their
    rows. Stripe applies a subscription's discounts one after another, each to what the ones before left
    (docs.stripe.com/billing/subscriptions/coupons, "Stackable coupons and promotion codes"), so 10 % and 20 %
    take 28 %, not 30 %. One discount keeps its exact percentage; several compound through logarithms, rounded
    to 8 decimals (coupons carry at most 2, so up to four compound exactly). Null when no row has a percentage.
#}
{% macro compounded_percent_off(percent_off) -%}
    cast(case
        when count({{ percent_off }}) = 0 then null
        when max({{ percent_off }}) >= 100 then 100
        when count({{ percent_off }}) = 1 then max({{ percent_off }})
        else round(cast(100 * (1 - exp(sum(ln(1 - {{ percent_off }} / 100.0)))) as decimal(38, 12)), 8)
    end as decimal(18, 8))
{%- endmacro %}


{#
    A monthly amount (major units) after a discount in effect: `percent_off` of it, then `amount_off` (minor
    units per billing interval, normalised like the price), never below zero. The discount's columns are read
    from `discount` (a relation alias); the amount is unchanged where that relation has no row.
#}
{% macro mrr_after_discount(amount, discount, key_column, recurring_interval, interval_count, exponent) -%}
    case
        when {{ discount }}.{{ key_column }} is null then {{ amount }}
        else greatest(
            cast(0 as {{ dbt.type_numeric() }}),
            {{ mrr_divide(amount ~ ' * (100 - least(coalesce(' ~ discount ~ '.percent_off, 0), 100))', '100') }}
            - coalesce({{ mrr_normalise(discount ~ '.amount_off', recurring_interval, interval_count, exponent) }}, 0)
        )
    end
{%- endmacro %}


{# numerator / denominator as numeric(28, 6), null when the denominator is 0 or null: the MRR rates. #}
{% macro mrr_ratio(numerator, denominator) -%}
    {#- Cast outside the case too: Postgres drops the numeric's scale from a case's type. -#}
    cast(case when {{ denominator }} <> 0 then {{ mrr_divide(numerator, denominator) }} end as {{ dbt.type_numeric() }})
{%- endmacro %}


{#
    numerator / denominator (major units) rounded half away from zero to the currency's minor unit, null when
    the denominator is 0 or null: ARPA. Rounded once, from the exact quotient: rounding mrr_ratio's 6 decimals
    again could round a quotient just below a half cent up. One branch per exponent 0 to 4, like
    round_to_minor_unit; another exponent keeps 6 decimals.
#}
{% macro mrr_ratio_in_minor_units(numerator, denominator, exponent) -%}
    cast(
        case
            when {{ denominator }} <> 0 then case coalesce({{ exponent }}, 2)
                {%- for decimals in range(5) %}
                when {{ decimals }} then {{ mrr_divide(numerator, denominator, decimals) }}
                {%- endfor %}
                else {{ mrr_divide(numerator, denominator) }}
            end
        end
        as {{ dbt.type_numeric() }}
    )
{%- endmacro %}


{#
    numerator / denominator (positive) as numeric(28, 6), rounded half away from zero to `decimals` places (6
    unless given, at most 6), in exact decimal arithmetic on every warehouse, so that DuckDB and Postgres give
    the same figures to the last decimal. Operands carry up to 12 decimals.
#}
{% macro mrr_divide(numerator, denominator, decimals=6) -%}
    {{ return(adapter.dispatch('mrr_divide')(numerator, denominator, decimals)) }}
{%- endmacro %}

{% macro default__mrr_divide(numerator, denominator, decimals=6) -%}
    cast(
        round(cast({{ numerator }} as numeric) / cast({{ denominator }} as numeric), {{ decimals }})
        as {{ dbt.type_numeric() }}
    )
{%- endmacro %}

{% macro duckdb__mrr_divide(numerator, denominator, decimals=6) -%}
    {#- DuckDB divides decimals as doubles: divide integers instead (both operands in units of 10^-12) and
        round half away from zero with integer arithmetic, then scale the result back by 10^-decimals. -#}
    {%- set n = 'cast(cast(' ~ numerator ~ ' as decimal(38, 12)) * 1000000000000 as hugeint)' -%}
    {%- set d = 'cast(cast(' ~ denominator ~ ' as decimal(38, 12)) * 1000000000000 as hugeint)' -%}
    cast(
        cast(sign({{ n }}) * ((2 * abs({{ n }}) * {{ 10 ** decimals }} + {{ d }}) // (2 * {{ d }})) as decimal(38, 0))
        * cast({{ '%.*f' % (decimals, 10 ** -decimals) }} as decimal({{ decimals + 1 }}, {{ decimals }}))
        as {{ dbt.type_numeric() }}
    )
{%- endmacro %}


{#
    A join clause that unnests a JSON array held as text: one row per element, as JSON text in
    `<alias>.element`; no row when the array is null. Used for a price's `tiers`.
#}
{% macro cross_join_json_array(json_column, alias) -%}
    {{ return(adapter.dispatch('cross_join_json_array')(json_column, alias)) }}
{%- endmacro %}

{% macro default__cross_join_json_array(json_column, alias) -%}
    {{ exceptions.raise_compiler_error("cross_join_json_array is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__cross_join_json_array(json_column, alias) -%}
    cross join lateral unnest(cast(json_extract({{ json_column }}, '$[*]') as {{ dbt.type_string() }}[])) as {{ alias }} (element)
{%- endmacro %}

{% macro postgres__cross_join_json_array(json_column, alias) -%}
    cross join lateral jsonb_array_elements_text(cast({{ json_column }} as jsonb)) as {{ alias }} (element)
{%- endmacro %}
