-- Per account and currency, analytics.refunds_monthly adds up to stripe.refunds: every refund counted once, in
-- one month and one reason, its amount either refunded or failed. Returns the account-currencies that differ.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__refunds_monthly'}}}) }}

with

refunds as (

    select
        account_id,
        lower(currency) as currency,
        count(*) as refunds,
        sum(amount) as amount
    from {{ ref('stripe__refunds') }}
    group by account_id, lower(currency)

),

monthly as (

    select
        account_id,
        currency,
        sum(refunds) as refunds,
        sum(refunded_amount + failed_refund_amount) as amount
    from {{ ref('analytics__refunds_monthly') }}
    group by account_id, currency

)

select
    coalesce(refunds.account_id, monthly.account_id) as account_id,
    coalesce(refunds.currency, monthly.currency) as currency,
    refunds.refunds as stripe_refunds,
    monthly.refunds as monthly_refunds,
    refunds.amount as stripe_amount,
    monthly.amount as monthly_amount
from refunds
full outer join monthly
    on refunds.account_id = monthly.account_id
        and refunds.currency = monthly.currency
where refunds.refunds is null
    or monthly.refunds is null
    or refunds.refunds <> monthly.refunds
    or refunds.amount <> monthly.amount
