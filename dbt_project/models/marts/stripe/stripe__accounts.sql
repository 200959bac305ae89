-- The clean `stripe.accounts` table.

with

accounts as (

    select * from {{ ref('stg_stripe__accounts') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from accounts

)

select * from final
