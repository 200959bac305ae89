-- The analysts' `analytics.payout_items`: one row per automatic payout and balance transaction it paid out,
-- with what the transaction was; the payout's own transaction, which Stripe lists with them, is not an item.

with

payout_balance_transactions as (

    select * from {{ ref('stripe__payout_balance_transactions') }}

),

payouts as (

    select * from {{ ref('stripe__payouts') }}

),

balance_transactions as (

    select * from {{ ref('analytics__balance_transactions') }}

),

final as (

    select
        -- ids
        payout_balance_transactions.account_id,
        payout_balance_transactions.payout_id,
        payout_balance_transactions.balance_transaction_id,
        balance_transactions.source_id,
        balance_transactions.charge_id,
        balance_transactions.refund_id,
        balance_transactions.dispute_id,
        balance_transactions.customer_id,
        balance_transactions.invoice_id,
        balance_transactions.subscription_id,

        -- strings
        balance_transactions.source_type,
        balance_transactions.balance_transaction_type,
        balance_transactions.reporting_category,
        balance_transactions.description,
        balance_transactions.currency,

        -- numerics
        balance_transactions.amount,
        balance_transactions.amount_decimal,
        balance_transactions.fee,
        balance_transactions.fee_decimal,
        balance_transactions.net,
        balance_transactions.net_decimal,

        -- timestamps
        balance_transactions.created_at,
        balance_transactions.available_on_at,
        payouts.created_at as payout_created_at,
        payouts.arrival_at as payout_arrival_at

    from payout_balance_transactions
    inner join payouts
        on payout_balance_transactions.account_id = payouts.account_id
            and payout_balance_transactions.payout_id = payouts.payout_id
    -- Left: a transaction created after balance_transactions was read in the same sync keeps its row (with
    -- nulls until the next sync), so the payout's item count stays right.
    left join balance_transactions
        on payout_balance_transactions.account_id = balance_transactions.account_id
            and payout_balance_transactions.balance_transaction_id = balance_transactions.balance_transaction_id
    where payout_balance_transactions.balance_transaction_id <> coalesce(payouts.balance_transaction_id, '')

)

select * from final
