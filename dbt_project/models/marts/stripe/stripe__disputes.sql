-- The clean `stripe.disputes` table.

with

disputes as (

    select * from {{ ref('stg_stripe__disputes') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from disputes
    where {{ livemode_filter() }}

)

select * from final
