-- The clean `stripe.subscription_items` table.

with

subscription_items as (

    select * from {{ ref('stg_stripe__subscription_items') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    -- Stripe gives a subscription item no livemode: it goes with its subscription, as the var stripe_livemode keeps it.
    select * from subscription_items
    where {{ livemode_parent_filter('subscription_items', 'subscription_id', 'subscriptions', 'stripe__subscriptions', 'subscription_id') }}

)

select * from final
