-- The clean `stripe.subscription_items` table.

with

subscription_items as (

    select * from {{ ref('stg_stripe__subscription_items') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from subscription_items

)

select * from final
