-- Each subscription's MRR at each month's evaluation instant: one row per account, subscription and month in
-- which the subscription counts (int_stripe__subscription_status_periods) and has a licensed item. The sum of
-- its items' rows in int_stripe__subscription_item_mrr_monthly, which applies the discounts (the items' own,
-- then the subscription's or customer's on their total) and shares the subscription's discount out between
-- the items so that they add up to the subscription's MRR exactly: the discount logic lives there only.

with

item_months as (

    select * from {{ ref('int_stripe__subscription_item_mrr_monthly') }}

),

final as (

    select
        -- ids
        account_id,
        subscription_id,
        customer_id,

        -- strings
        currency,

        -- dates
        month,

        -- numerics
        count(*) as item_count,
        cast(sum(contract_mrr) as {{ dbt.type_numeric() }}) as contract_mrr,
        cast(sum(discount_mrr) as {{ dbt.type_numeric() }}) as discount_mrr,
        cast(sum(mrr) as {{ dbt.type_numeric() }}) as mrr,

        -- timestamps
        evaluated_at

    from item_months
    group by account_id, subscription_id, customer_id, currency, month, evaluated_at

)

select * from final
