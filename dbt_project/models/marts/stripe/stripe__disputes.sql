-- The clean `stripe.disputes` table.

with

disputes as (

    select * from {{ ref('stg_stripe__disputes') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from disputes

)

select * from final
