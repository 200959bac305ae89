with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'refunds'),
        fields=[
            'currency', 'charge', 'payment_intent', 'balance_transaction', 'failure_balance_transaction',
            'customer', 'status', 'reason', 'failure_reason', 'receipt_number', 'destination_details.type',
            'amount',
        ],
        json_fields=['metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as refund_id,
        {{ json_text('object_json', 'charge') }} as charge_id,
        {{ json_text('object_json', 'payment_intent') }} as payment_intent_id,
        {{ json_text('object_json', 'balance_transaction') }} as balance_transaction_id,
        {{ json_text('object_json', 'failure_balance_transaction') }} as failure_balance_transaction_id,
        {{ json_text('object_json', 'customer') }} as customer_id,

        -- strings
        {{ json_text('object_json', 'status') }} as status,
        {{ json_text('object_json', 'reason') }} as reason,
        {{ json_text('object_json', 'failure_reason') }} as failure_reason,
        {{ json_text('object_json', 'receipt_number') }} as receipt_number,
        {{ json_text('object_json', 'destination_details.type') }} as destination_type,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ to_major_units(json_bigint('object_json', 'amount'), 'currency_exponent') }} as amount_decimal,

        -- booleans
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source_with_exponent

)

select * from final
