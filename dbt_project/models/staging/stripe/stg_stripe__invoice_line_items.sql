with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'invoice_line_items'),
        fields=[
            'currency', 'amount', 'pricing.unit_amount_decimal', 'invoice',
            'parent.subscription_item_details.subscription', 'parent.invoice_item_details.subscription',
            'parent.subscription_item_details.subscription_item', 'parent.invoice_item_details.invoice_item',
            'parent.subscription_item_details.invoice_item', 'pricing.price_details.price',
            'pricing.price_details.product', 'parent.type', 'pricing.type', 'description', 'quantity',
            'quantity_decimal', 'parent.subscription_item_details.proration',
            'parent.invoice_item_details.proration', 'discountable', 'livemode', 'period.start', 'period.end',
        ],
        json_fields=['discount_amounts', 'taxes', 'discounts', 'metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

extracted as (

    -- Amounts are pulled out once here so that the major-unit columns below reuse them.
    select
        source_with_exponent.*,
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ json_array_sum('object_json', 'discount_amounts', 'amount') }} as discount_amount,
        {{ json_array_sum('object_json', 'taxes', 'amount') }} as tax_amount,
        {{ json_numeric_exact('object_json', 'pricing.unit_amount_decimal') }} as unit_amount_exact
    from source_with_exponent

),

final as (

    select
        -- ids
        account_id,
        id as line_item_id,
        -- Lines are read under their invoice, whose id the ingester keeps in parent_id.
        coalesce({{ json_text('object_json', 'invoice') }}, parent_id) as invoice_id,
        -- Since API version 2025-03-31 what generated the line sits under `parent`, and its price under
        -- `pricing`; only the details named by parent.type are filled.
        coalesce(
            {{ json_text('object_json', 'parent.subscription_item_details.subscription') }},
            {{ json_text('object_json', 'parent.invoice_item_details.subscription') }}
        ) as subscription_id,
        {{ json_text('object_json', 'parent.subscription_item_details.subscription_item') }} as subscription_item_id,
        coalesce(
            {{ json_text('object_json', 'parent.invoice_item_details.invoice_item') }},
            {{ json_text('object_json', 'parent.subscription_item_details.invoice_item') }}
        ) as invoice_item_id,
        {{ json_text('object_json', 'pricing.price_details.price') }} as price_id,
        {{ json_text('object_json', 'pricing.price_details.product') }} as product_id,

        -- strings
        {{ json_text('object_json', 'parent.type') }} as parent_type,
        {{ json_text('object_json', 'pricing.type') }} as pricing_type,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'discounts') }} as discounts,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        amount,
        {{ to_major_units('amount', 'currency_exponent') }} as amount_decimal,
        discount_amount,
        {{ to_major_units('discount_amount', 'currency_exponent') }} as discount_amount_decimal,
        tax_amount,
        {{ to_major_units('tax_amount', 'currency_exponent') }} as tax_amount_decimal,
        {{ to_major_units('unit_amount_exact', 'currency_exponent') }} as unit_amount_decimal,
        unit_amount_exact,
        {{ json_bigint('object_json', 'quantity') }} as quantity,
        {{ json_numeric_exact('object_json', 'quantity_decimal') }} as quantity_exact,

        -- booleans
        coalesce(
            {{ json_boolean('object_json', 'parent.subscription_item_details.proration') }},
            {{ json_boolean('object_json', 'parent.invoice_item_details.proration') }}
        ) as is_proration,
        {{ json_boolean('object_json', 'discountable') }} as is_discountable,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        -- Lines carry no creation time of their own: the invoice's created_at applies.
        {{ json_timestamp('object_json', 'period.start') }} as period_start_at,
        {{ json_timestamp('object_json', 'period.end') }} as period_end_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from extracted

)

select * from final
