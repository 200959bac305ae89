-- Each month's total MRR, customers and churned MRR in mrr_monthly are the sums of customer_mrr_monthly, per
-- account and currency, and no customer row falls outside mrr_monthly's months. Returns the months that differ.

with

mrr_monthly as (

    select * from {{ ref('analytics__mrr_monthly') }}

),

customer_mrr_monthly as (

    select * from {{ ref('analytics__customer_mrr_monthly') }}

),

customer_totals as (

    select
        account_id,
        currency,
        month,
        sum(mrr) as mrr,
        sum(case when mrr > 0 then 1 else 0 end) as customers,
        sum(case when movement = 'churn' then previous_mrr else 0 end) as churned_mrr
    from customer_mrr_monthly
    group by account_id, currency, month

)

select
    coalesce(mrr_monthly.account_id, customer_totals.account_id) as account_id,
    coalesce(mrr_monthly.currency, customer_totals.currency) as currency,
    coalesce(mrr_monthly.month, customer_totals.month) as month,
    mrr_monthly.mrr,
    customer_totals.mrr as customer_mrr
from mrr_monthly
full outer join customer_totals
    on mrr_monthly.account_id = customer_totals.account_id
    and mrr_monthly.currency = customer_totals.currency
    and mrr_monthly.month = customer_totals.month
where mrr_monthly.month is null
    or abs(mrr_monthly.mrr - coalesce(customer_totals.mrr, 0)) > 0.000001
    or mrr_monthly.customers <> coalesce(customer_totals.customers, 0)
    or abs(mrr_monthly.churned_mrr - coalesce(customer_totals.churned_mrr, 0)) > 0.000001
