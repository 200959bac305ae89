-- The clean `stripe.products` table.

with

products as (

    select * from {{ ref('stg_stripe__products') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from products
    where {{ livemode_filter() }}

)

select * from final
