-- The analysts' `analytics.balance_transactions`: one row per balance transaction, with the object that moved
-- the balance, the charge behind it (and that charge's customer, invoice and subscription) and the automatic
-- payout that paid it out. Like Fivetran's stripe__balance_transactions.

with

balance_transactions as (

    select * from {{ ref('stripe__balance_transactions') }}

),

payments as (

    -- The charge's customer, invoice and subscription, linked once there (invoice payments, events).
    select * from {{ ref('analytics__payments') }}

),

refunds as (

    select * from {{ ref('stripe__refunds') }}

),

disputes as (

    select * from {{ ref('stripe__disputes') }}

),

payouts as (

    select * from {{ ref('stripe__payouts') }}

),

payout_balance_transactions as (

    select * from {{ ref('stripe__payout_balance_transactions') }}

),

paid_out_in as (

    -- The automatic payout each transaction was paid out in, from Stripe's list per payout. Should Stripe list
    -- a transaction under two payouts (a failed payout's funds are paid out again), the latest one paid it.
    select
        payout_balance_transactions.account_id,
        payout_balance_transactions.balance_transaction_id,
        payout_balance_transactions.payout_id,
        payouts.arrival_at as payout_arrival_at,
        row_number() over (
            partition by payout_balance_transactions.account_id, payout_balance_transactions.balance_transaction_id
            order by payouts.created_at desc, payout_balance_transactions.payout_id desc
        ) as payout_rank
    from payout_balance_transactions
    left join payouts
        on payout_balance_transactions.account_id = payouts.account_id
            and payout_balance_transactions.payout_id = payouts.payout_id

),

sourced as (

    -- `source` names the object that moved the balance; found among the charges, refunds, disputes and
    -- payouts it is that object, otherwise the transaction's type says what it was (adjustment, stripe_fee,
    -- transfer, ...). A charge of type charge or payment moves the balance through its own transaction.
    select
        balance_transactions.*,
        case
            when payments.charge_id is not null then 'charge'
            when refunds.refund_id is not null then 'refund'
            when disputes.dispute_id is not null then 'dispute'
            when payouts.payout_id is not null then 'payout'
            else balance_transactions.balance_transaction_type
        end as source_type,
        refunds.refund_id,
        disputes.dispute_id,
        -- The charge behind it: the charge itself, the charge a refund refunded, the charge a dispute disputes.
        coalesce(payments.charge_id, refunds.charge_id, disputes.charge_id) as charge_id
    from balance_transactions
    left join payments
        on balance_transactions.account_id = payments.account_id
            and balance_transactions.source_id = payments.charge_id
    left join refunds
        on balance_transactions.account_id = refunds.account_id
            and balance_transactions.source_id = refunds.refund_id
    left join disputes
        on balance_transactions.account_id = disputes.account_id
            and balance_transactions.source_id = disputes.dispute_id
    left join payouts
        on balance_transactions.account_id = payouts.account_id
            and balance_transactions.source_id = payouts.payout_id

),

final as (

    select
        -- ids
        sourced.account_id,
        sourced.balance_transaction_id,
        sourced.source_id,
        sourced.charge_id,
        sourced.refund_id,
        sourced.dispute_id,
        charge_payments.payment_intent_id,
        charge_payments.customer_id,
        charge_payments.invoice_id,
        charge_payments.subscription_id,
        paid_out_in.payout_id,

        -- strings
        sourced.source_type,
        sourced.balance_transaction_type,
        sourced.reporting_category,
        sourced.status,
        sourced.description,
        sourced.currency,

        -- numerics
        sourced.amount,
        sourced.amount_decimal,
        sourced.fee,
        sourced.fee_decimal,
        sourced.net,
        sourced.net_decimal,
        sourced.exchange_rate,

        -- timestamps
        sourced.created_at,
        sourced.available_on_at,
        paid_out_in.payout_arrival_at

    from sourced
    left join payments as charge_payments
        on sourced.account_id = charge_payments.account_id
            and sourced.charge_id = charge_payments.charge_id
    left join paid_out_in
        on sourced.account_id = paid_out_in.account_id
            and sourced.balance_transaction_id = paid_out_in.balance_transaction_id
            and paid_out_in.payout_rank = 1

)

select * from final
