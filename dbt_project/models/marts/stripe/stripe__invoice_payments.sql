-- The clean `stripe.invoice_payments` table.

with

invoice_payments as (

    select * from {{ ref('stg_stripe__invoice_payments') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from invoice_payments

)

select * from final
