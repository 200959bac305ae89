-- The exchange rates Stripe itself used, per account, currency pair and month. A balance transaction that settles
-- a charge, refund or dispute presented in one currency into a balance of another carries Stripe's
-- `exchange_rate`: the presented amount (major units) times the rate is the settled amount (major units).
-- Stripe: https://docs.stripe.com/api/balance_transactions/object#balance_transaction_object-exchange_rate
-- ("if you charge a customer 10.00 EUR ... converted into 12.34 USD ... exchange_rate would be 1.234").
--
-- A month's rate is the average of its conversions' rates weighted by the presented amount: the one rate at which
-- the month's presented volume converts into what the balance received (up to Stripe's rounding of each amount to
-- the minor unit), so a few small conversions on an unusual day do not weigh as much as the bulk of the month.
-- Where a pair is only seen the other way in a month, its rate is the inverse; where neither way, a cross rate
-- through a third currency seen against both in that month (Stripe converts into the balance currencies, so a
-- single-balance account sees every currency against that one only).

with

balance_transactions as (

    select * from {{ ref('stripe__balance_transactions') }}

),

charges as (

    select * from {{ ref('stripe__charges') }}

),

refunds as (

    select * from {{ ref('stripe__refunds') }}

),

disputes as (

    select * from {{ ref('stripe__disputes') }}

),

presented as (

    -- What the customer's side of each conversion was: the source's currency and amount (a charge's captured
    -- amount, which is what settles). Ids are prefixed by object (ch_/py_, re_/pyr_, dp_), so one join serves all.
    select
        account_id,
        charge_id as source_id,
        lower(currency) as currency,
        amount_captured_decimal as amount_decimal
    from charges
    union all
    select
        account_id,
        refund_id,
        lower(currency),
        amount_decimal
    from refunds
    union all
    select
        account_id,
        dispute_id,
        lower(currency),
        amount_decimal
    from disputes

),

conversions as (

    select
        balance_transactions.account_id,
        presented.currency as currency_from,
        lower(balance_transactions.currency) as currency_to,
        cast({{ dbt.date_trunc('day', 'balance_transactions.created_at') }} as date) as conversion_date,
        -- Refunds and chargebacks are negative in the balance; the weight is the size of the presented amount.
        case when presented.amount_decimal < 0 then -presented.amount_decimal else presented.amount_decimal end
            as presented_amount,
        balance_transactions.exchange_rate
    from balance_transactions
    inner join presented
        on balance_transactions.account_id = presented.account_id
            and balance_transactions.source_id = presented.source_id
    where balance_transactions.exchange_rate is not null
        and balance_transactions.exchange_rate > 0
        and presented.amount_decimal <> 0
        and presented.currency <> lower(balance_transactions.currency)

),

observed as (

    select
        account_id,
        currency_from,
        currency_to,
        cast({{ dbt.date_trunc('month', 'conversion_date') }} as date) as month,
        max(conversion_date) as rate_date,
        cast(sum(presented_amount * exchange_rate) / sum(presented_amount) as numeric(38, 12)) as exchange_rate,
        count(*) as conversions
    from conversions
    group by 1, 2, 3, 4

),

inverse as (

    -- The pair the other way round, in the months it was not observed that way itself.
    select
        observed.account_id,
        observed.currency_to as currency_from,
        observed.currency_from as currency_to,
        observed.month,
        observed.rate_date,
        cast(cast(1 as numeric(38, 12)) / observed.exchange_rate as numeric(38, 12)) as exchange_rate,
        observed.conversions
    from observed
    left join observed as same_way
        on observed.account_id = same_way.account_id
            and observed.currency_to = same_way.currency_from
            and observed.currency_from = same_way.currency_to
            and observed.month = same_way.month
    where same_way.account_id is null

),

direct as (

    select
        account_id,
        currency_from,
        currency_to,
        month,
        rate_date,
        exchange_rate,
        conversions,
        'observed' as derivation
    from observed
    union all
    select
        account_id,
        currency_from,
        currency_to,
        month,
        rate_date,
        exchange_rate,
        conversions,
        'inverse' as derivation
    from inverse

),

cross_paths as (

    -- from -> via -> to, for the pairs with no direct rate that month. With several balance currencies there can
    -- be several paths: the one backed by the most conversions wins (then the first via currency, for a stable
    -- choice). The rate's date is the earlier of its two legs' last conversions.
    select
        first_leg.account_id,
        first_leg.currency_from,
        second_leg.currency_to,
        first_leg.month,
        case when first_leg.rate_date < second_leg.rate_date then first_leg.rate_date else second_leg.rate_date end
            as rate_date,
        cast(first_leg.exchange_rate * second_leg.exchange_rate as numeric(38, 12)) as exchange_rate,
        first_leg.conversions + second_leg.conversions as conversions,
        row_number() over (
            partition by first_leg.account_id, first_leg.currency_from, second_leg.currency_to, first_leg.month
            order by first_leg.conversions + second_leg.conversions desc, first_leg.currency_to asc
        ) as path_rank
    from direct as first_leg
    inner join direct as second_leg
        on first_leg.account_id = second_leg.account_id
            and first_leg.month = second_leg.month
            and first_leg.currency_to = second_leg.currency_from
            and first_leg.currency_from <> second_leg.currency_to
    left join direct as known
        on first_leg.account_id = known.account_id
            and first_leg.month = known.month
            and first_leg.currency_from = known.currency_from
            and second_leg.currency_to = known.currency_to
    where known.account_id is null

),

final as (

    select
        -- ids
        account_id,

        -- strings
        currency_from,
        currency_to,
        derivation,

        -- dates
        month,
        rate_date,

        -- numerics
        exchange_rate,
        cast(conversions as {{ dbt.type_bigint() }}) as conversions

    from direct
    union all
    select
        account_id,
        currency_from,
        currency_to,
        'cross' as derivation,
        month,
        rate_date,
        exchange_rate,
        cast(conversions as {{ dbt.type_bigint() }}) as conversions
    from cross_paths
    where path_rank = 1

)

select * from final
