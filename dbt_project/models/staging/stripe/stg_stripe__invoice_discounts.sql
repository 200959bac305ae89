-- The same discount objects as stg_stripe__discounts, as the invoices and invoice lines they discounted name
-- them: ended discounts survive here only.
with

source as (

    {{ stripe_source(
        source('stripe_raw', 'invoice_discounts'),
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
        -- The invoice it was read from (a discount of a subscription names no invoice itself).
        parent_id as read_from_invoice_id,

        -- strings
        {{ json_text('object_json', 'source.type') }} as source_type,

        -- booleans
        -- Stripe expands a discount removed since as a deleted_discount (`deleted: true`, no `end`).
        is_deleted,

        -- timestamps
        {{ json_timestamp('object_json', 'start') }} as start_at,
        {{ json_timestamp('object_json', 'end') }} as end_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source

)

select * from final
