-- The clean `stripe.events` table.

with

events as (

    select * from {{ ref('stg_stripe__events') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from events

)

select * from final
