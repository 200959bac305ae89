with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'credit_notes'),
        fields=[
            'currency', 'amount', 'subtotal', 'subtotal_excluding_tax', 'total', 'total_excluding_tax',
            'discount_amount', 'amount_shipping', 'out_of_band_amount', 'pre_payment_amount',
            'post_payment_amount', 'invoice', 'customer', 'customer_balance_transaction', 'number', 'status',
            'type', 'reason', 'memo', 'livemode', 'effective_at', 'voided_at',
        ],
        json_fields=['metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

extracted as (

    -- Amounts are pulled out once here so that the major-unit columns below reuse them.
    select
        source_with_exponent.*,
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ json_bigint('object_json', 'subtotal') }} as subtotal,
        {{ json_bigint('object_json', 'subtotal_excluding_tax') }} as subtotal_excluding_tax,
        {{ json_bigint('object_json', 'total') }} as total,
        {{ json_bigint('object_json', 'total_excluding_tax') }} as total_excluding_tax,
        {{ json_bigint('object_json', 'discount_amount') }} as discount_amount,
        {{ json_bigint('object_json', 'amount_shipping') }} as amount_shipping,
        {{ json_bigint('object_json', 'out_of_band_amount') }} as out_of_band_amount,
        {{ json_bigint('object_json', 'pre_payment_amount') }} as pre_payment_amount,
        {{ json_bigint('object_json', 'post_payment_amount') }} as post_payment_amount
    from source_with_exponent

),

final as (

    select
        -- ids
        account_id,
        id as credit_note_id,
        {{ json_text('object_json', 'invoice') }} as invoice_id,
        {{ json_text('object_json', 'customer') }} as customer_id,
        {{ json_text('object_json', 'customer_balance_transaction') }} as customer_balance_transaction_id,

        -- strings
        -- Named like invoices.invoice_number.
        {{ json_text('object_json', 'number') }} as credit_note_number,
        {{ json_text('object_json', 'status') }} as status,
        -- Qualified like events.event_type: a bare `type` says nothing once joined.
        {{ json_text('object_json', 'type') }} as credit_note_type,
        {{ json_text('object_json', 'reason') }} as reason,
        {{ json_text('object_json', 'memo') }} as memo,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        amount,
        {{ to_major_units('amount', 'currency_exponent') }} as amount_decimal,
        subtotal,
        {{ to_major_units('subtotal', 'currency_exponent') }} as subtotal_decimal,
        subtotal_excluding_tax,
        {{ to_major_units('subtotal_excluding_tax', 'currency_exponent') }} as subtotal_excluding_tax_decimal,
        total,
        {{ to_major_units('total', 'currency_exponent') }} as total_decimal,
        total_excluding_tax,
        {{ to_major_units('total_excluding_tax', 'currency_exponent') }} as total_excluding_tax_decimal,
        discount_amount,
        {{ to_major_units('discount_amount', 'currency_exponent') }} as discount_amount_decimal,
        amount_shipping,
        {{ to_major_units('amount_shipping', 'currency_exponent') }} as amount_shipping_decimal,
        out_of_band_amount,
        {{ to_major_units('out_of_band_amount', 'currency_exponent') }} as out_of_band_amount_decimal,
        pre_payment_amount,
        {{ to_major_units('pre_payment_amount', 'currency_exponent') }} as pre_payment_amount_decimal,
        post_payment_amount,
        {{ to_major_units('post_payment_amount', 'currency_exponent') }} as post_payment_amount_decimal,

        -- booleans
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ json_timestamp('object_json', 'effective_at') }} as effective_at,
        {{ json_timestamp('object_json', 'voided_at') }} as voided_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from extracted

)

select * from final
