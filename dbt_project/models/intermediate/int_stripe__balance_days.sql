-- The money that moved through each account's balance per currency and day (in the reporting time zone, UTC by default), classified as Fivetran's daily
-- overview does: sales are balance transactions of type charge/payment, refunds refund/payment_refund, payouts
-- dated by available_on; Connect transfers in no column; everything else an adjustment on its creation day.

with

balance_transactions as (

    select * from {{ ref('stripe__balance_transactions') }}

),

classified as (

    select
        account_id,
        currency,
        -- Payouts count on the day the money is available for them (Fivetran's convention), the rest on
        -- the day it happened.
        {{ reporting_date_trunc('day', "case when balance_transaction_type like 'payout%' then available_on_at else created_at end") }} as date_day,
        case
            when balance_transaction_type in ('charge', 'payment') then 'sale'
            when balance_transaction_type in ('refund', 'payment_refund') then 'refund'
            when balance_transaction_type like 'payout%' then 'payout'
            -- Connect transfers move money between accounts, not to or from customers: in no column.
            when balance_transaction_type like '%transfer%' then 'transfer'
            else 'adjustment'
        end as activity,
        amount,
        amount_decimal,
        fee,
        fee_decimal,
        net,
        net_decimal
    from balance_transactions

),

final as (

    select
        account_id,
        currency,
        date_day,
        cast(sum(case when activity = 'sale' then amount else 0 end) as bigint) as gross_volume,
        sum(case when activity = 'sale' then amount_decimal else 0 end) as gross_volume_decimal,
        -- Refunds, payouts: positive amounts that left the balance (Stripe's own amounts are negative).
        cast(sum(case when activity = 'refund' then -amount else 0 end) as bigint) as refunds,
        sum(case when activity = 'refund' then -amount_decimal else 0 end) as refunds_decimal,
        cast(sum(case when activity = 'adjustment' then amount else 0 end) as bigint) as adjustments,
        sum(case when activity = 'adjustment' then amount_decimal else 0 end) as adjustments_decimal,
        cast(sum(case when activity in ('sale', 'refund', 'adjustment') then fee else 0 end) as bigint) as fees,
        sum(case when activity in ('sale', 'refund', 'adjustment') then fee_decimal else 0 end) as fees_decimal,
        cast(sum(case when activity in ('sale', 'refund', 'adjustment') then net else 0 end) as bigint) as net_volume,
        sum(case when activity in ('sale', 'refund', 'adjustment') then net_decimal else 0 end) as net_volume_decimal,
        cast(sum(case when activity = 'payout' then -amount else 0 end) as bigint) as payouts,
        sum(case when activity = 'payout' then -amount_decimal else 0 end) as payouts_decimal,
        cast(sum(case when activity = 'sale' then 1 else 0 end) as bigint) as successful_payments
    from classified
    group by account_id, currency, date_day

)

select * from final
