with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'payouts'),
        fields=[
            'currency', 'balance_transaction', 'failure_balance_transaction', 'destination',
            'original_payout', 'status', 'type', 'method', 'source_type', 'reconciliation_status',
            'failure_code', 'failure_message', 'description', 'statement_descriptor', 'amount', 'automatic',
            'livemode', 'arrival_date',
        ],
        json_fields=['metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as payout_id,
        {{ json_text('object_json', 'balance_transaction') }} as balance_transaction_id,
        {{ json_text('object_json', 'failure_balance_transaction') }} as failure_balance_transaction_id,
        {{ json_text('object_json', 'destination') }} as destination_id,
        {{ json_text('object_json', 'original_payout') }} as original_payout_id,

        -- strings
        {{ json_text('object_json', 'status') }} as status,
        -- Qualified like events.event_type: a bare `type` says nothing once joined.
        {{ json_text('object_json', 'type') }} as payout_type,
        {{ json_text('object_json', 'method') }} as method,
        {{ json_text('object_json', 'source_type') }} as source_type,
        {{ json_text('object_json', 'reconciliation_status') }} as reconciliation_status,
        {{ json_text('object_json', 'failure_code') }} as failure_code,
        {{ json_text('object_json', 'failure_message') }} as failure_message,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_text('object_json', 'statement_descriptor') }} as statement_descriptor,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ to_major_units(json_bigint('object_json', 'amount'), 'currency_exponent') }} as amount_decimal,

        -- booleans
        {{ json_boolean('object_json', 'automatic') }} as is_automatic,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        -- Stripe's arrival_date is a timestamp (the expected day at midnight UTC), kept as one.
        {{ json_timestamp('object_json', 'arrival_date') }} as arrival_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source_with_exponent

)

select * from final
