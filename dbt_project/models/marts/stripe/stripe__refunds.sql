-- The clean `stripe.refunds` table.

with

refunds as (

    select * from {{ ref('stg_stripe__refunds') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from refunds

)

select * from final
