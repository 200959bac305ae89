-- The clean `stripe.prices` table.

with

prices as (

    select * from {{ ref('stg_stripe__prices') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from prices
    where {{ livemode_filter() }}

)

select * from final
