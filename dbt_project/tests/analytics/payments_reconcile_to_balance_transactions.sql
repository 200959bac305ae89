-- analytics.payments against the balance, per account and settlement currency: the payments' settled
-- amounts, fees and net are exactly those of the charge and payment balance transactions (count, amount, fee,
-- net), so every such balance transaction belongs to one loaded charge and none is lost or counted twice by
-- the joins. (On the simulator's accounts a payment settled in its own currency also settled exactly its
-- amount_captured; tests/transform/test_analytics.py checks that.) Returns the account-currencies that differ.
-- Reads several models: the meta names the one Dagster shows it on, as an asset check.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__payments'}}}) }}

with

payments as (

    select
        account_id,
        settlement_currency as currency,
        count(*) as n,
        sum(amount_settled) as amount,
        sum(fee) as fee,
        sum(net) as net
    from {{ ref('analytics__payments') }}
    where balance_transaction_id is not null
    group by account_id, settlement_currency

),

balance_transactions as (

    select
        account_id,
        currency,
        count(*) as n,
        sum(amount) as amount,
        sum(fee) as fee,
        sum(net) as net
    from {{ ref('stripe__balance_transactions') }}
    where balance_transaction_type in ('charge', 'payment')
    group by account_id, currency

),

final as (

    select
        coalesce(payments.account_id, balance_transactions.account_id) as account_id,
        coalesce(payments.currency, balance_transactions.currency) as currency,
        payments.n as payment_count,
        balance_transactions.n as balance_transaction_count,
        payments.net as payments_net,
        balance_transactions.net as balance_transactions_net
    from payments
    full outer join balance_transactions
        on balance_transactions.account_id = payments.account_id
        and balance_transactions.currency = payments.currency
    where payments.n is null
        or balance_transactions.n is null
        or payments.n <> balance_transactions.n
        or payments.amount <> balance_transactions.amount
        or payments.fee <> balance_transactions.fee
        or payments.net <> balance_transactions.net

)

select * from final
