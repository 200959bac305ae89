-- The clean `stripe.coupons` table.

with

coupons as (

    select * from {{ ref('stg_stripe__coupons') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from coupons

)

select * from final
