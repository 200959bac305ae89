-- Per account, customer, currency and month, subscription_item_mrr_monthly's rows add up to customer_mrr_monthly's
-- mrr, contract_mrr and previous_mrr exactly (so the items' movements add up to the customer's change), every
-- customer row has items (a churn row its items' churn rows), and no item row falls outside a customer row.
-- Exact: both sides are sums of the same 6-decimal figures. Returns the customer-months that differ.

with

item_mrr_monthly as (

    select * from {{ ref('analytics__subscription_item_mrr_monthly') }}

),

customer_mrr_monthly as (

    select * from {{ ref('analytics__customer_mrr_monthly') }}

),

item_totals as (

    select
        account_id,
        customer_id,
        currency,
        month,
        sum(mrr) as mrr,
        sum(contract_mrr) as contract_mrr,
        sum(previous_mrr) as previous_mrr
    from item_mrr_monthly
    group by account_id, customer_id, currency, month

)

select
    coalesce(customer_mrr_monthly.account_id, item_totals.account_id) as account_id,
    coalesce(customer_mrr_monthly.customer_id, item_totals.customer_id) as customer_id,
    coalesce(customer_mrr_monthly.currency, item_totals.currency) as currency,
    coalesce(customer_mrr_monthly.month, item_totals.month) as month,
    customer_mrr_monthly.mrr,
    item_totals.mrr as item_mrr,
    customer_mrr_monthly.contract_mrr,
    item_totals.contract_mrr as item_contract_mrr,
    customer_mrr_monthly.previous_mrr,
    item_totals.previous_mrr as item_previous_mrr
from customer_mrr_monthly
full outer join item_totals
    on customer_mrr_monthly.account_id = item_totals.account_id
        and customer_mrr_monthly.customer_id = item_totals.customer_id
        and customer_mrr_monthly.currency = item_totals.currency
        and customer_mrr_monthly.month = item_totals.month
where customer_mrr_monthly.month is null
    or item_totals.month is null
    or customer_mrr_monthly.mrr <> item_totals.mrr
    or customer_mrr_monthly.contract_mrr <> item_totals.contract_mrr
    or customer_mrr_monthly.previous_mrr <> item_totals.previous_mrr
