-- The analysts' `analytics.refunds_monthly`: one row per account, currency, month and refund reason with any
-- refund, each refund in the month of its own `created` (not its charge's), in its charge's currency, next to
-- that month's gross charge volume in the currency for the refund rate.
-- Stripe's refund: reason duplicate, fraudulent, requested_by_customer, expired_uncaptured_charge or null;
-- status pending, requires_action, succeeded, failed or canceled (https://docs.stripe.com/api/refunds/object).

with

refunds as (

    select * from {{ ref('stripe__refunds') }}

),

charges as (

    select * from {{ ref('stripe__charges') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

),

charge_months as (

    -- Gross volume: what succeeded charges captured, by the month they were made, in their own currency.
    select
        account_id,
        lower(currency) as currency,
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as month,
        sum(amount_captured) as gross_volume
    from charges
    where status = 'succeeded'
    group by account_id, lower(currency), cast({{ dbt.date_trunc('month', 'created_at') }} as date)

),

refund_months as (

    -- A failed or canceled refund returned nothing: it is counted apart from the amount refunded.
    select
        account_id,
        lower(currency) as currency,
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as month,
        coalesce(reason, 'unspecified') as reason,
        count(*) as refunds,
        sum(case when status in ('failed', 'canceled') then 0 else amount end) as refunded_amount,
        sum(case when status in ('failed', 'canceled') then 1 else 0 end) as failed_refunds,
        sum(case when status in ('failed', 'canceled') then amount else 0 end) as failed_refund_amount
    from refunds
    group by
        account_id,
        lower(currency),
        cast({{ dbt.date_trunc('month', 'created_at') }} as date),
        coalesce(reason, 'unspecified')

),

final as (

    select
        -- ids
        refund_months.account_id,

        -- strings
        refund_months.currency,
        refund_months.reason,

        -- dates
        refund_months.month,

        -- numerics
        cast(refund_months.refunds as {{ dbt.type_bigint() }}) as refunds,
        cast(refund_months.refunded_amount as {{ dbt.type_bigint() }}) as refunded_amount,
        {{ to_major_units('refund_months.refunded_amount', 'currency_exponents.exponent') }} as refunded_amount_decimal,
        cast(refund_months.failed_refunds as {{ dbt.type_bigint() }}) as failed_refunds,
        cast(refund_months.failed_refund_amount as {{ dbt.type_bigint() }}) as failed_refund_amount,
        {{ to_major_units('refund_months.failed_refund_amount', 'currency_exponents.exponent') }} as failed_refund_amount_decimal,
        cast(coalesce(charge_months.gross_volume, 0) as {{ dbt.type_bigint() }}) as gross_volume,
        {{ to_major_units('coalesce(charge_months.gross_volume, 0)', 'currency_exponents.exponent') }} as gross_volume_decimal,
        cast(
            case
                when charge_months.gross_volume > 0
                    then 1.0 * refund_months.refunded_amount / charge_months.gross_volume
            end as {{ dbt.type_numeric() }}
        ) as refund_rate

    from refund_months
    left join charge_months
        on refund_months.account_id = charge_months.account_id
            and refund_months.currency = charge_months.currency
            and refund_months.month = charge_months.month
    left join currency_exponents
        on refund_months.currency = currency_exponents.currency

)

select * from final
