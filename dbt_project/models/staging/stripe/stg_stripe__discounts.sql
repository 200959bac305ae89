with

source as (

    {{ stripe_source(
        source('stripe_raw', 'discounts'),
        fields=[
            'source.coupon', 'customer', 'subscription', 'subscription_item', 'invoice', 'invoice_item',
            'promotion_code', 'checkout_session', 'source.type', 'start', 'end',
        ],
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as discount_id,
        -- At the pinned API version a discount names its coupon under `source` (type coupon); `coupon` is gone.
        {{ json_text('object_json', 'source.coupon') }} as coupon_id,
        {{ json_text('object_json', 'customer') }} as customer_id,
        {{ json_text('object_json', 'subscription') }} as subscription_id,
        {{ json_text('object_json', 'subscription_item') }} as subscription_item_id,
        {{ json_text('object_json', 'invoice') }} as invoice_id,
        {{ json_text('object_json', 'invoice_item') }} as invoice_item_id,
        {{ json_text('object_json', 'promotion_code') }} as promotion_code_id,
        {{ json_text('object_json', 'checkout_session') }} as checkout_session_id,

        -- strings
        {{ json_text('object_json', 'source.type') }} as source_type,

        -- booleans
        is_deleted,

        -- timestamps
        -- Discounts carry no creation time; start_at is when the discount was applied.
        {{ json_timestamp('object_json', 'start') }} as start_at,
        {{ json_timestamp('object_json', 'end') }} as end_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source

)

select * from final
