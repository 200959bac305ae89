-- Per account and currency, analytics.customer_revenue adds up to analytics.payments: no charge is dropped
-- for want of a customer (fivetran/dbt_stripe#28) nor counted twice. Returns the account-currencies that differ.
-- Reads several models: the meta names the one Dagster shows it on, as an asset check.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__customer_revenue'}}}) }}

with

payments as (

    select
        account_id,
        currency,
        count(*) as n,
        sum(case when status = 'succeeded' then amount_captured else 0 end) as paid,
        sum(case when status = 'succeeded' then amount_refunded else 0 end) as refunded
    from {{ ref('analytics__payments') }}
    group by account_id, currency

),

customer_revenue as (

    select
        account_id,
        currency,
        sum(total_paid) as paid,
        sum(total_refunded) as refunded
    from {{ ref('analytics__customer_revenue') }}
    group by account_id, currency

)

select
    coalesce(payments.account_id, customer_revenue.account_id) as account_id,
    coalesce(payments.currency, customer_revenue.currency) as currency,
    payments.paid as payments_paid,
    customer_revenue.paid as customer_revenue_paid
from payments
full outer join customer_revenue
    on customer_revenue.account_id = payments.account_id
    and customer_revenue.currency = payments.currency
where payments.paid is null
    or customer_revenue.paid is null
    or payments.paid <> customer_revenue.paid
    or payments.refunded <> customer_revenue.refunded
