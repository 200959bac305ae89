with

source as (

    {{ stripe_source(
        source('stripe_raw', 'subscription_items'),
        fields=[
            'subscription', 'price.id', 'plan.id', 'price.product', 'quantity', 'current_period_start',
            'current_period_end',
        ],
        json_fields=['discounts', 'metadata'],
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as subscription_item_id,
        -- Items are read under their subscription, whose id the ingester keeps in parent_id.
        coalesce({{ json_text('object_json', 'subscription') }}, parent_id) as subscription_id,
        -- The item embeds its whole price (and the legacy plan view of it, with the same id).
        {{ json_text('object_json', 'price.id') }} as price_id,
        {{ json_text('object_json', 'plan.id') }} as plan_id,
        {{ json_text('object_json', 'price.product') }} as product_id,

        -- strings
        {{ json_fragment('object_json', 'discounts') }} as discounts,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        {{ json_bigint('object_json', 'quantity') }} as quantity,

        -- booleans
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        -- The current period lives on each item since API version 2025-03-31, no longer on the subscription.
        {{ json_timestamp('object_json', 'current_period_start') }} as current_period_start_at,
        {{ json_timestamp('object_json', 'current_period_end') }} as current_period_end_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source

)

select * from final
