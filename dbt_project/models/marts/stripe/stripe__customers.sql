-- The clean `stripe.customers` table.

with

customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from customers

)

select * from final
