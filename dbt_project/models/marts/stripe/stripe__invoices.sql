-- The clean `stripe.invoices` table.

with

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from invoices
    where {{ livemode_filter() }}

)

select * from final
