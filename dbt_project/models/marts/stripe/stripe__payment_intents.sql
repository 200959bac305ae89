-- The clean `stripe.payment_intents` table.

with

payment_intents as (

    select * from {{ ref('stg_stripe__payment_intents') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from payment_intents
    where {{ livemode_filter() }}

)

select * from final
