-- The clean `stripe.subscriptions` table.

with

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from subscriptions
    where {{ livemode_filter() }}

)

select * from final
