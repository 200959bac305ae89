-- The clean `stripe.refunds` table.

with

refunds as (

    select * from {{ ref('stg_stripe__refunds') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Stripe gives a refund no livemode: it goes with its charge, as the var stripe_livemode keeps it.
    select * from refunds
    where {{ livemode_parent_filter('refunds', 'charge_id', 'charges', 'stripe__charges', 'charge_id') }}

)

select * from final
