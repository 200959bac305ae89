-- The clean `stripe.prices` table.

with

prices as (

    select * from {{ ref('stg_stripe__prices') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from prices

)

select * from final
