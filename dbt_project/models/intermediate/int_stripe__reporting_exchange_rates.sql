-- The rate that turns each account's figures in one currency and month into its reporting currency: the var
-- stripe_reporting_currency for every account, or by default each account's own (its default currency, as
-- int_stripe__account_home_currencies has it). One row per account, currency and month that a reporting mart
-- shows (the months of analytics.mrr_monthly and of analytics.daily_overview).
--
-- The first rate that exists, in this order (rate_source):
--   1. same_currency         the currency is the reporting currency: 1
--   2. stripe                Stripe's own rate that month (int_stripe__exchange_rates_monthly: observed, else
--                            the inverse, else a cross rate)
--   3. seed                  the user's rate for that month (seed exchange_rates, its latest date in the month)
--   4. stripe_earlier_month  Stripe's rate of the most recent earlier month
--   5. seed_earlier_month    the user's most recent earlier rate
--   6. missing               no rate: the converted figures are null, the row stays
-- A rate Stripe actually used beats a user's table in the same month; a user's rate for the month beats a
-- stale Stripe one. A later month's rate is never used for an earlier month.
{%- set reporting_currency = var('stripe_reporting_currency', none) -%}
{%- if reporting_currency is none or (reporting_currency | string | trim) == '' -%}
    {%- set reporting_currency = none -%}
{%- else -%}
    {%- set reporting_currency = reporting_currency | string | trim | lower -%}
    {%- if not modules.re.fullmatch('[a-z]{3}', reporting_currency) -%}
        {{ exceptions.raise_compiler_error(
            "var stripe_reporting_currency must be a three-letter ISO currency code such as 'eur' (or null for "
            ~ "each account's default currency), not '" ~ reporting_currency ~ "'"
        ) }}
    {%- endif -%}
{%- endif %}

with

mrr_months as (

    select * from {{ ref('int_stripe__mrr_months') }}

),

daily_calendar as (

    select * from {{ ref('int_stripe__daily_calendar') }}

),

home_currencies as (

    select * from {{ ref('int_stripe__account_home_currencies') }}

),

stripe_rates as (

    select * from {{ ref('int_stripe__exchange_rates_monthly') }}

),

seed_rates as (

    select * from {{ ref('exchange_rates') }}

),

needed as (

    select
        account_id,
        currency,
        month
    from mrr_months
    union
    select
        account_id,
        currency,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date)
    from daily_calendar

),

targets as (

    select
        needed.account_id,
        needed.currency,
        needed.month,
        {% if reporting_currency is none -%}
            lower(home_currencies.currency)
        {%- else -%}
            '{{ reporting_currency }}'
        {%- endif %} as reporting_currency
    from needed
    left join home_currencies
        on needed.account_id = home_currencies.account_id

),

seed_both_ways as (

    -- The user's rates as given, and inverted for the pair the other way round.
    select
        lower(currency_from) as currency_from,
        lower(currency_to) as currency_to,
        rate_date,
        cast(rate as numeric(38, 12)) as exchange_rate,
        0 as is_inverse
    from seed_rates
    where rate > 0
    union all
    select
        lower(currency_to),
        lower(currency_from),
        rate_date,
        cast(cast(1 as numeric(38, 12)) / rate as numeric(38, 12)),
        1
    from seed_rates
    where rate > 0

),

seed_ranked as (

    -- One seed rate per pair and month: the pair as given before its inverse, then the latest date.
    select
        currency_from,
        currency_to,
        cast({{ dbt.date_trunc('month', 'rate_date') }} as date) as month,
        rate_date,
        exchange_rate,
        row_number() over (
            partition by currency_from, currency_to, cast({{ dbt.date_trunc('month', 'rate_date') }} as date)
            order by is_inverse asc, rate_date desc
        ) as month_rank
    from seed_both_ways
    where currency_from <> currency_to

),

candidates as (

    select
        targets.account_id,
        targets.currency,
        targets.month,
        case when stripe_rates.month = targets.month then 2 else 4 end as priority,
        case when stripe_rates.month = targets.month then 'stripe' else 'stripe_earlier_month' end as rate_source,
        stripe_rates.month as rate_month,
        stripe_rates.rate_date,
        stripe_rates.exchange_rate
    from targets
    inner join stripe_rates
        on targets.account_id = stripe_rates.account_id
            and targets.currency = stripe_rates.currency_from
            and targets.reporting_currency = stripe_rates.currency_to
            and targets.month >= stripe_rates.month
    union all
    select
        targets.account_id,
        targets.currency,
        targets.month,
        case when seed_ranked.month = targets.month then 3 else 5 end,
        case when seed_ranked.month = targets.month then 'seed' else 'seed_earlier_month' end,
        seed_ranked.month as rate_month,
        seed_ranked.rate_date,
        seed_ranked.exchange_rate
    from targets
    inner join seed_ranked
        on targets.currency = seed_ranked.currency_from
            and targets.reporting_currency = seed_ranked.currency_to
            and targets.month >= seed_ranked.month
            and seed_ranked.month_rank = 1

),

chosen as (

    select
        account_id,
        currency,
        month,
        rate_source,
        rate_date,
        exchange_rate,
        row_number() over (
            partition by account_id, currency, month
            order by priority asc, rate_month desc
        ) as choice
    from candidates

),

final as (

    select
        -- ids
        targets.account_id,

        -- strings
        targets.currency,
        targets.reporting_currency,
        case
            when targets.currency = targets.reporting_currency then 'same_currency'
            when chosen.rate_source is not null then chosen.rate_source
            else 'missing'
        end as rate_source,

        -- dates
        targets.month,
        case when targets.currency <> targets.reporting_currency then chosen.rate_date end as rate_date,

        -- numerics
        case
            when targets.currency = targets.reporting_currency then cast(1 as numeric(38, 12))
            else chosen.exchange_rate
        end as exchange_rate

    from targets
    left join chosen
        on targets.account_id = chosen.account_id
            and targets.currency = chosen.currency
            and targets.month = chosen.month
            and chosen.choice = 1

)

select * from final
