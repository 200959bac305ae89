with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'balance_transactions'),
        fields=[
            'currency', 'amount', 'fee', 'net', 'source', 'type', 'reporting_category', 'status',
            'balance_type', 'description', 'exchange_rate', 'available_on',
        ],
        json_fields=['fee_details'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

extracted as (

    -- Amounts are pulled out once here so that the major-unit columns below reuse them.
    select
        source_with_exponent.*,
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ json_bigint('object_json', 'fee') }} as fee,
        {{ json_bigint('object_json', 'net') }} as net
    from source_with_exponent

),

final as (

    select
        -- ids
        account_id,
        id as balance_transaction_id,
        -- The object that moved the balance: a charge, refund, dispute, payout, ... (its id only).
        {{ json_text('object_json', 'source') }} as source_id,

        -- strings
        -- Qualified like events.event_type: a bare `type` says nothing once joined.
        {{ json_text('object_json', 'type') }} as balance_transaction_type,
        {{ json_text('object_json', 'reporting_category') }} as reporting_category,
        {{ json_text('object_json', 'status') }} as status,
        {{ json_text('object_json', 'balance_type') }} as balance_type,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'fee_details') }} as fee_details,

        -- numerics
        amount,
        {{ to_major_units('amount', 'currency_exponent') }} as amount_decimal,
        fee,
        {{ to_major_units('fee', 'currency_exponent') }} as fee_decimal,
        net,
        {{ to_major_units('net', 'currency_exponent') }} as net_decimal,
        {{ json_numeric_exact('object_json', 'exchange_rate') }} as exchange_rate,

        -- booleans
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ json_timestamp('object_json', 'available_on') }} as available_on_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from extracted

)

select * from final
