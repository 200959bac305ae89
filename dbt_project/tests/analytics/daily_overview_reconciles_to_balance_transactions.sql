-- analytics.daily_overview holds every balance transaction exactly once: per account and currency its sums
-- equal the balance transactions' (no day outside the calendar, no account or currency mixed in), and each
-- row satisfies net_volume = gross_volume - refunds + adjustments - fees. Returns the rows or account-currencies
-- that do not.
-- Reads several models: the meta names the one Dagster shows it on, as an asset check.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__daily_overview'}}}) }}

with

overview as (

    select
        account_id,
        currency,
        sum(gross_volume) as gross_volume,
        sum(refunds) as refunds,
        sum(fees) as fees,
        sum(net_volume) as net_volume,
        sum(payouts) as payouts,
        sum(successful_payments) as successful_payments
    from {{ ref('analytics__daily_overview') }}
    group by account_id, currency

),

balance_transactions as (

    select
        account_id,
        currency,
        sum(case when balance_transaction_type in ('charge', 'payment') then amount else 0 end) as gross_volume,
        sum(case when balance_transaction_type in ('refund', 'payment_refund') then -amount else 0 end) as refunds,
        sum(
            case
                when balance_transaction_type like 'payout%' or balance_transaction_type like '%transfer%' then 0
                else fee
            end
        ) as fees,
        sum(
            case
                when balance_transaction_type like 'payout%' or balance_transaction_type like '%transfer%' then 0
                else net
            end
        ) as net_volume,
        sum(case when balance_transaction_type like 'payout%' then -amount else 0 end) as payouts,
        sum(case when balance_transaction_type in ('charge', 'payment') then 1 else 0 end) as successful_payments
    from {{ ref('stripe__balance_transactions') }}
    group by account_id, currency

),

totals_that_differ as (

    select
        coalesce(overview.account_id, balance_transactions.account_id) as account_id,
        coalesce(overview.currency, balance_transactions.currency) as currency,
        cast(null as date) as date_day,
        'totals differ from the balance transactions' as problem
    from overview
    full outer join balance_transactions
        on balance_transactions.account_id = overview.account_id
        and balance_transactions.currency = overview.currency
    where coalesce(overview.gross_volume, 0) <> coalesce(balance_transactions.gross_volume, 0)
        or coalesce(overview.refunds, 0) <> coalesce(balance_transactions.refunds, 0)
        or coalesce(overview.fees, 0) <> coalesce(balance_transactions.fees, 0)
        or coalesce(overview.net_volume, 0) <> coalesce(balance_transactions.net_volume, 0)
        or coalesce(overview.payouts, 0) <> coalesce(balance_transactions.payouts, 0)
        or coalesce(overview.successful_payments, 0) <> coalesce(balance_transactions.successful_payments, 0)

),

rows_that_do_not_add_up as (

    select
        account_id,
        currency,
        date as date_day,
        'net_volume <> gross_volume - refunds + adjustments - fees' as problem
    from {{ ref('analytics__daily_overview') }}
    where net_volume <> gross_volume - refunds + adjustments - fees
        or net_volume_decimal <> gross_volume_decimal - refunds_decimal + adjustments_decimal - fees_decimal

)

select * from totals_that_differ
union all
select * from rows_that_do_not_add_up
