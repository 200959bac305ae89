-- The clean `stripe.charges` table.

with

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from charges
    where {{ livemode_filter() }}

)

select * from final
