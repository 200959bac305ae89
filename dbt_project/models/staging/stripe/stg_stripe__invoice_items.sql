with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'invoice_items'),
        fields=[
            'currency', 'amount', 'net_amount', 'pricing.unit_amount_decimal', 'customer', 'invoice',
            'parent.subscription_details.subscription', 'parent.subscription_details.subscription_item',
            'pricing.price_details.price', 'pricing.price_details.product', 'parent.type', 'description',
            'quantity', 'quantity_decimal', 'proration', 'discountable', 'livemode', 'date', 'period.start',
            'period.end',
        ],
        json_fields=['discounts', 'metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

extracted as (

    -- Amounts are pulled out once here so that the major-unit columns below reuse them.
    select
        source_with_exponent.*,
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ json_bigint('object_json', 'net_amount') }} as net_amount,
        {{ json_numeric_exact('object_json', 'pricing.unit_amount_decimal') }} as unit_amount_exact
    from source_with_exponent

),

final as (

    select
        -- ids
        account_id,
        id as invoice_item_id,
        {{ json_text('object_json', 'customer') }} as customer_id,
        -- Null while the item waits for the customer's next invoice.
        {{ json_text('object_json', 'invoice') }} as invoice_id,
        -- Since API version 2025-03-31 the subscription sits under parent.subscription_details and the price
        -- under pricing.price_details.
        {{ json_text('object_json', 'parent.subscription_details.subscription') }} as subscription_id,
        {{ json_text('object_json', 'parent.subscription_details.subscription_item') }} as subscription_item_id,
        {{ json_text('object_json', 'pricing.price_details.price') }} as price_id,
        {{ json_text('object_json', 'pricing.price_details.product') }} as product_id,

        -- strings
        {{ json_text('object_json', 'parent.type') }} as parent_type,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'discounts') }} as discounts,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        amount,
        {{ to_major_units('amount', 'currency_exponent') }} as amount_decimal,
        net_amount,
        {{ to_major_units('net_amount', 'currency_exponent') }} as net_amount_decimal,
        {{ to_major_units('unit_amount_exact', 'currency_exponent') }} as unit_amount_decimal,
        unit_amount_exact,
        {{ json_bigint('object_json', 'quantity') }} as quantity,
        {{ json_numeric_exact('object_json', 'quantity_decimal') }} as quantity_exact,

        -- booleans
        {{ json_boolean('object_json', 'proration') }} as is_proration,
        {{ json_boolean('object_json', 'discountable') }} as is_discountable,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        -- Invoice items carry their creation time as `date`, not `created`.
        {{ json_timestamp('object_json', 'date') }} as created_at,
        {{ json_timestamp('object_json', 'period.start') }} as period_start_at,
        {{ json_timestamp('object_json', 'period.end') }} as period_end_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from extracted

)

select * from final
