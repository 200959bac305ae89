-- Each customer's MRR per currency at each month's evaluation instant: one row per account, customer,
-- currency and month in which at least one of the customer's subscriptions in that currency counts. Months
-- without a counted subscription have no row (their MRR is zero); mrr can be zero on a row when discounts
-- take the whole value.

with

subscription_months as (

    select * from {{ ref('int_stripe__subscription_mrr_monthly') }}

),

final as (

    select
        -- ids
        account_id,
        customer_id,

        -- strings
        currency,

        -- dates
        month,

        -- numerics
        count(*) as subscription_count,
        cast(sum(contract_mrr) as {{ dbt.type_numeric() }}) as contract_mrr,
        cast(sum(mrr) as {{ dbt.type_numeric() }}) as mrr

    from subscription_months
    group by account_id, customer_id, currency, month

)

select * from final
