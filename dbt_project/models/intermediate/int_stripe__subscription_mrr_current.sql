-- Each subscription's MRR now (at mrr_as_of): one row per account and subscription that counts towards MRR
-- at that instant; a subscription without a row has no MRR now. The current month of
-- int_stripe__subscription_mrr_monthly, for the analytics tables that show a current MRR (customers,
-- subscriptions), so that they agree with customer_mrr_monthly.

with

subscription_months as (

    select * from {{ ref('int_stripe__subscription_mrr_monthly') }}

),

months as (

    select * from {{ ref('int_stripe__mrr_months') }}

),

current_months as (

    select
        account_id,
        currency,
        max(month) as month
    from months
    group by account_id, currency

),

final as (

    select
        -- ids
        subscription_months.account_id,
        subscription_months.subscription_id,
        subscription_months.customer_id,

        -- strings
        subscription_months.currency,

        -- numerics
        subscription_months.item_count,
        subscription_months.contract_mrr,
        subscription_months.discount_mrr,
        subscription_months.mrr,

        -- timestamps
        subscription_months.evaluated_at

    from subscription_months
    inner join current_months
        on subscription_months.account_id = current_months.account_id
            and subscription_months.currency = current_months.currency
            and subscription_months.month = current_months.month

)

select * from final
