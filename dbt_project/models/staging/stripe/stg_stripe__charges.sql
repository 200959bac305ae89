with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'charges'),
        fields=[
            'currency', 'customer', 'payment_intent', 'balance_transaction', 'payment_method', 'status',
            'description', 'failure_code', 'failure_message', 'outcome.type', 'outcome.reason',
            'payment_method_details.type', 'payment_method_details.card.brand',
            'payment_method_details.card.funding', 'payment_method_details.card.country', 'receipt_email',
            'statement_descriptor', 'amount', 'amount_captured', 'amount_refunded', 'application_fee_amount',
            'paid', 'captured', 'refunded', 'disputed', 'livemode',
        ],
        json_fields=['metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

final as (

    select
        -- ids
        -- Since API version 2025-03-31 a charge no longer names its invoice; that link goes through the
        -- payment intent (invoice payments), so there is no invoice_id here.
        account_id,
        id as charge_id,
        {{ json_text('object_json', 'customer') }} as customer_id,
        {{ json_text('object_json', 'payment_intent') }} as payment_intent_id,
        {{ json_text('object_json', 'balance_transaction') }} as balance_transaction_id,
        {{ json_text('object_json', 'payment_method') }} as payment_method_id,

        -- strings
        {{ json_text('object_json', 'status') }} as status,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_text('object_json', 'failure_code') }} as failure_code,
        {{ json_text('object_json', 'failure_message') }} as failure_message,
        {{ json_text('object_json', 'outcome.type') }} as outcome_type,
        {{ json_text('object_json', 'outcome.reason') }} as outcome_reason,
        {{ json_text('object_json', 'payment_method_details.type') }} as payment_method_type,
        {{ json_text('object_json', 'payment_method_details.card.brand') }} as card_brand,
        {{ json_text('object_json', 'payment_method_details.card.funding') }} as card_funding,
        {{ json_text('object_json', 'payment_method_details.card.country') }} as card_country,
        {{ json_text('object_json', 'receipt_email') }} as receipt_email,
        {{ json_text('object_json', 'statement_descriptor') }} as statement_descriptor,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ to_major_units(json_bigint('object_json', 'amount'), 'currency_exponent') }} as amount_decimal,
        {{ json_bigint('object_json', 'amount_captured') }} as amount_captured,
        {{ to_major_units(json_bigint('object_json', 'amount_captured'), 'currency_exponent') }} as amount_captured_decimal,
        {{ json_bigint('object_json', 'amount_refunded') }} as amount_refunded,
        {{ to_major_units(json_bigint('object_json', 'amount_refunded'), 'currency_exponent') }} as amount_refunded_decimal,
        {{ json_bigint('object_json', 'application_fee_amount') }} as application_fee_amount,
        {{ to_major_units(json_bigint('object_json', 'application_fee_amount'), 'currency_exponent') }} as application_fee_amount_decimal,

        -- booleans
        {{ json_boolean('object_json', 'paid') }} as is_paid,
        {{ json_boolean('object_json', 'captured') }} as is_captured,
        {{ json_boolean('object_json', 'refunded') }} as is_refunded,
        {{ json_boolean('object_json', 'disputed') }} as is_disputed,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source_with_exponent

)

select * from final
