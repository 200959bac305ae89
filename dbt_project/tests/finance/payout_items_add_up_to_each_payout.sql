-- Every automatic payout whose items are loaded is explained by them: the nets of the balance transactions it
-- paid out (its own transaction excluded) add up to its amount, and its own transaction, when loaded, took
-- exactly that amount out of the balance. Returns the payouts that do not add up.
-- Reads several models: the meta names the one Dagster shows it on, as an asset check.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__payout_items'}}}) }}

with

payouts as (

    select * from {{ ref('stripe__payouts') }}

),

payout_items as (

    select * from {{ ref('analytics__payout_items') }}

),

balance_transactions as (

    select * from {{ ref('stripe__balance_transactions') }}

),

item_totals as (

    select
        account_id,
        payout_id,
        count(*) as items,
        sum(net) as net
    from payout_items
    group by account_id, payout_id

),

final as (

    select
        payouts.account_id,
        payouts.payout_id,
        payouts.amount,
        item_totals.items,
        item_totals.net as items_net,
        own.amount as own_transaction_amount
    from item_totals
    inner join payouts
        on item_totals.account_id = payouts.account_id
            and item_totals.payout_id = payouts.payout_id
    left join balance_transactions as own
        on payouts.account_id = own.account_id
            and payouts.balance_transaction_id = own.balance_transaction_id
    where payouts.is_automatic
        and (
            item_totals.net is null
            or item_totals.net <> payouts.amount
            or own.amount <> -payouts.amount
        )

)

select * from final
