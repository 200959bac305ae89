-- The clean `stripe.subscriptions` table.

with

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from subscriptions

)

select * from final
