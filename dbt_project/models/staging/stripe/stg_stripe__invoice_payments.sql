with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'invoice_payments'),
        fields=[
            'currency', 'amount_paid', 'amount_requested', 'invoice', 'payment.payment_intent',
            'payment.charge', 'payment.type', 'status', 'is_default', 'livemode',
            'status_transitions.paid_at', 'status_transitions.canceled_at',
        ],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

extracted as (

    -- Amounts are pulled out once here so that the major-unit columns below reuse them.
    select
        source_with_exponent.*,
        {{ json_bigint('object_json', 'amount_paid') }} as amount_paid,
        {{ json_bigint('object_json', 'amount_requested') }} as amount_requested
    from source_with_exponent

),

final as (

    select
        -- ids
        account_id,
        id as invoice_payment_id,
        {{ json_text('object_json', 'invoice') }} as invoice_id,
        {{ json_text('object_json', 'payment.payment_intent') }} as payment_intent_id,
        -- Set only for payments of type `charge` (a charge made without a payment intent).
        {{ json_text('object_json', 'payment.charge') }} as payment_charge_id,

        -- strings
        {{ json_text('object_json', 'payment.type') }} as payment_type,
        {{ json_text('object_json', 'status') }} as status,
        {{ json_text('object_json', 'currency') }} as currency,

        -- numerics
        amount_paid,
        {{ to_major_units('amount_paid', 'currency_exponent') }} as amount_paid_decimal,
        amount_requested,
        {{ to_major_units('amount_requested', 'currency_exponent') }} as amount_requested_decimal,

        -- booleans
        {{ json_boolean('object_json', 'is_default') }} as is_default,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ json_timestamp('object_json', 'status_transitions.paid_at') }} as paid_at,
        {{ json_timestamp('object_json', 'status_transitions.canceled_at') }} as canceled_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from extracted

)

select * from final
