with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'payment_intents'),
        fields=[
            'currency', 'amount', 'amount_received', 'amount_capturable', 'application_fee_amount',
            'customer', 'latest_charge', 'payment_method', 'status', 'capture_method', 'confirmation_method',
            'cancellation_reason', 'setup_future_usage', 'last_payment_error.type', 'last_payment_error.code',
            'last_payment_error.decline_code', 'last_payment_error.message', 'description', 'receipt_email',
            'statement_descriptor', 'livemode', 'canceled_at',
        ],
        json_fields=['payment_method_types', 'metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

extracted as (

    -- Amounts are pulled out once here so that the major-unit columns below reuse them.
    select
        source_with_exponent.*,
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ json_bigint('object_json', 'amount_received') }} as amount_received,
        {{ json_bigint('object_json', 'amount_capturable') }} as amount_capturable,
        {{ json_bigint('object_json', 'application_fee_amount') }} as application_fee_amount
    from source_with_exponent

),

final as (

    select
        -- ids
        account_id,
        id as payment_intent_id,
        {{ json_text('object_json', 'customer') }} as customer_id,
        {{ json_text('object_json', 'latest_charge') }} as latest_charge_id,
        {{ json_text('object_json', 'payment_method') }} as payment_method_id,

        -- strings
        {{ json_text('object_json', 'status') }} as status,
        {{ json_text('object_json', 'capture_method') }} as capture_method,
        {{ json_text('object_json', 'confirmation_method') }} as confirmation_method,
        {{ json_text('object_json', 'cancellation_reason') }} as cancellation_reason,
        {{ json_text('object_json', 'setup_future_usage') }} as setup_future_usage,
        {{ json_text('object_json', 'last_payment_error.type') }} as last_payment_error_type,
        {{ json_text('object_json', 'last_payment_error.code') }} as last_payment_error_code,
        {{ json_text('object_json', 'last_payment_error.decline_code') }} as last_payment_error_decline_code,
        {{ json_text('object_json', 'last_payment_error.message') }} as last_payment_error_message,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_text('object_json', 'receipt_email') }} as receipt_email,
        {{ json_text('object_json', 'statement_descriptor') }} as statement_descriptor,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'payment_method_types') }} as payment_method_types,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        amount,
        {{ to_major_units('amount', 'currency_exponent') }} as amount_decimal,
        amount_received,
        {{ to_major_units('amount_received', 'currency_exponent') }} as amount_received_decimal,
        amount_capturable,
        {{ to_major_units('amount_capturable', 'currency_exponent') }} as amount_capturable_decimal,
        application_fee_amount,
        {{ to_major_units('application_fee_amount', 'currency_exponent') }} as application_fee_amount_decimal,

        -- booleans
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ json_timestamp('object_json', 'canceled_at') }} as canceled_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from extracted

)

select * from final
