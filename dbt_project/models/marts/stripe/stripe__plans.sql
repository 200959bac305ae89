-- The clean `stripe.plans` table.

with

plans as (

    select * from {{ ref('stg_stripe__plans') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from plans
    where {{ livemode_filter() }}

)

select * from final
