-- What subscription events say about each item's price and quantity: one row per subscription event, item and
-- observation. An event's data.object is the subscription as it was when the event happened, items included
-- ('after': the item's state from that instant); a customer.subscription.updated event that changed the items
-- also carries the items as they were just before, in previous_attributes.items ('before'), and an item there
-- but not in data.object was removed by that change ('removed'). Invoice lines only date the changes Stripe
-- prorated; events date the others too (proration_behavior none, quantity changes billed at renewal), for as
-- long as Stripe keeps events (30 days) and, loaded, ever after.

with

events as (

    select * from {{ ref('stripe__events') }}

),

subscription_events as (

    select
        account_id,
        event_id,
        object_id as subscription_id,
        created_at,
        {{ json_fragment('data_object', 'items.data') }} as items_after,
        {{ json_fragment('previous_attributes', 'items.data') }} as items_before
    from events
    where object_type = 'subscription'
        and event_type in (
            'customer.subscription.created',
            'customer.subscription.updated',
            'customer.subscription.deleted'
        )
        and not is_deleted

),

{#- The items as the event shows them (`data.object`) and as they were before it (`previous_attributes`). #}
{%- for side in ['after', 'before'] %}

    items_{{ side }} as (

        select
            subscription_events.account_id,
            subscription_events.event_id,
            subscription_events.subscription_id,
            subscription_events.created_at,
            {{ json_text('item_elements.element', 'id') }} as subscription_item_id,
            {{ json_text('item_elements.element', 'price.id') }} as price_id,
            {{ json_bigint('item_elements.element', 'quantity') }} as quantity
        from subscription_events
        {{ cross_join_json_array('subscription_events.items_' ~ side, 'item_elements') }}

    ),
{% endfor %}

observations as (

    select
        items_after.*,
        'after' as observation
    from items_after

    union all

    select
        items_before.*,
        'before' as observation
    from items_before

    union all

    -- Listed before the change and not after it: the change removed the item.
    select
        items_before.account_id,
        items_before.event_id,
        items_before.subscription_id,
        items_before.created_at,
        items_before.subscription_item_id,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_bigint() }}) as quantity,
        'removed' as observation
    from items_before
    left join items_after
        on items_before.account_id = items_after.account_id
            and items_before.event_id = items_after.event_id
            and items_before.subscription_item_id = items_after.subscription_item_id
    where items_after.subscription_item_id is null

),

final as (

    select
        -- ids
        account_id,
        event_id,
        subscription_id,
        subscription_item_id,
        price_id,

        -- strings
        observation,

        -- numerics
        quantity,

        -- timestamps
        created_at as observed_at

    from observations
    where subscription_item_id is not null

)

select * from final
