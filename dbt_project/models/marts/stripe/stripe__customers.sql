-- The clean `stripe.customers` table.

with

customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Only the mode the var stripe_livemode keeps (macros/livemode.sql).
    select * from customers
    where {{ livemode_filter() }}

)

select * from final
