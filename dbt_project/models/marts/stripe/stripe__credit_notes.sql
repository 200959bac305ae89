-- The clean `stripe.credit_notes` table.

with

credit_notes as (

    select * from {{ ref('stg_stripe__credit_notes') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from credit_notes
    where {{ livemode_filter() }}

)

select * from final
