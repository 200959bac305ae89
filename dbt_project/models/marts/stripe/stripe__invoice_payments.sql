-- The clean `stripe.invoice_payments` table.

with

invoice_payments as (

    select * from {{ ref('stg_stripe__invoice_payments') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from invoice_payments
    where {{ livemode_filter() }}

)

select * from final
