-- Each subscription item as the last sync saw it, with its subscription's status: one row per account and item.
-- What snap_stripe__subscription_item_states keeps a version of whenever price, quantity, status or deletion
-- change, so that states Stripe's current objects no longer show stay known. A view: the snapshot reads it
-- once per build.
{{ config(materialized='view') }}

with

subscription_items as (

    select * from {{ ref('stripe__subscription_items') }}

),

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

final as (

    select
        -- ids
        subscription_items.account_id,
        subscription_items.subscription_item_id,
        subscription_items.subscription_id,
        subscription_items.price_id,

        -- strings
        subscriptions.status as subscription_status,

        -- numerics
        subscription_items.quantity,

        -- booleans
        subscription_items.is_deleted or coalesce(subscriptions.is_deleted, false) as is_deleted,

        -- timestamps
        -- Items are read with their subscription; the later of the two loads is when this state was seen.
        case
            when subscriptions.synced_at > subscription_items.synced_at then subscriptions.synced_at
            else subscription_items.synced_at
        end as observed_at

    from subscription_items
    left join subscriptions
        on subscription_items.account_id = subscriptions.account_id
            and subscription_items.subscription_id = subscriptions.subscription_id

)

select * from final
