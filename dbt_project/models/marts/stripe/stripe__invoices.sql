-- The clean `stripe.invoices` table.

with

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from invoices

)

select * from final
