-- The clean `stripe.invoice_line_items` table.

with

invoice_line_items as (

    select * from {{ ref('stg_stripe__invoice_line_items') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from invoice_line_items
    where {{ livemode_filter() }}

)

select * from final
