-- The clean `stripe.coupons` table.

with

coupons as (

    select * from {{ ref('stg_stripe__coupons') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from coupons
    where {{ livemode_filter() }}

)

select * from final
