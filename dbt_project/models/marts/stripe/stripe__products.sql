-- The clean `stripe.products` table.

with

products as (

    select * from {{ ref('stg_stripe__products') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from products

)

select * from final
