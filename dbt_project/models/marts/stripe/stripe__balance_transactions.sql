-- The clean `stripe.balance_transactions` table.

with

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from balance_transactions

)

select * from final
