with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'invoices'),
        fields=[
            'currency', 'subtotal', 'subtotal_excluding_tax', 'total', 'total_excluding_tax', 'amount_due',
            'amount_paid', 'amount_remaining', 'amount_shipping', 'starting_balance', 'ending_balance',
            'customer', 'parent.subscription_details.subscription', 'parent.quote_details.quote', 'number',
            'status', 'billing_reason', 'collection_method', 'parent.type', 'customer_email', 'description',
            'attempt_count', 'attempted', 'auto_advance', 'livemode', 'status_transitions.finalized_at',
            'status_transitions.paid_at', 'status_transitions.voided_at',
            'status_transitions.marked_uncollectible_at', 'due_date', 'effective_at', 'next_payment_attempt',
            'period_start', 'period_end',
        ],
        json_fields=['total_discount_amounts', 'metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

extracted as (

    -- Amounts are pulled out once here so that tax and the major-unit columns below reuse them.
    select
        source_with_exponent.*,
        {{ json_bigint('object_json', 'subtotal') }} as subtotal,
        {{ json_bigint('object_json', 'subtotal_excluding_tax') }} as subtotal_excluding_tax,
        {{ json_bigint('object_json', 'total') }} as total,
        {{ json_bigint('object_json', 'total_excluding_tax') }} as total_excluding_tax,
        {{ json_array_sum('object_json', 'total_discount_amounts', 'amount') }} as total_discount_amount,
        {{ json_bigint('object_json', 'amount_due') }} as amount_due,
        {{ json_bigint('object_json', 'amount_paid') }} as amount_paid,
        {{ json_bigint('object_json', 'amount_remaining') }} as amount_remaining,
        {{ json_bigint('object_json', 'amount_shipping') }} as amount_shipping,
        {{ json_bigint('object_json', 'starting_balance') }} as starting_balance,
        {{ json_bigint('object_json', 'ending_balance') }} as ending_balance
    from source_with_exponent

),

final as (

    select
        -- ids
        account_id,
        id as invoice_id,
        {{ json_text('object_json', 'customer') }} as customer_id,
        -- Since API version 2025-03-31 the subscription sits under parent.subscription_details.
        {{ json_text('object_json', 'parent.subscription_details.subscription') }} as subscription_id,
        {{ json_text('object_json', 'parent.quote_details.quote') }} as quote_id,

        -- strings
        {{ json_text('object_json', 'number') }} as invoice_number,
        {{ json_text('object_json', 'status') }} as status,
        {{ json_text('object_json', 'billing_reason') }} as billing_reason,
        {{ json_text('object_json', 'collection_method') }} as collection_method,
        {{ json_text('object_json', 'parent.type') }} as parent_type,
        {{ json_text('object_json', 'customer_email') }} as customer_email,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        subtotal,
        {{ to_major_units('subtotal', 'currency_exponent') }} as subtotal_decimal,
        subtotal_excluding_tax,
        {{ to_major_units('subtotal_excluding_tax', 'currency_exponent') }} as subtotal_excluding_tax_decimal,
        total_discount_amount,
        {{ to_major_units('total_discount_amount', 'currency_exponent') }} as total_discount_amount_decimal,
        -- Tax of every kind (exclusive and inclusive): Stripe's total minus its total excluding tax.
        total - total_excluding_tax as tax,
        {{ to_major_units('total - total_excluding_tax', 'currency_exponent') }} as tax_decimal,
        total,
        {{ to_major_units('total', 'currency_exponent') }} as total_decimal,
        total_excluding_tax,
        {{ to_major_units('total_excluding_tax', 'currency_exponent') }} as total_excluding_tax_decimal,
        amount_due,
        {{ to_major_units('amount_due', 'currency_exponent') }} as amount_due_decimal,
        amount_paid,
        {{ to_major_units('amount_paid', 'currency_exponent') }} as amount_paid_decimal,
        amount_remaining,
        {{ to_major_units('amount_remaining', 'currency_exponent') }} as amount_remaining_decimal,
        amount_shipping,
        {{ to_major_units('amount_shipping', 'currency_exponent') }} as amount_shipping_decimal,
        starting_balance,
        {{ to_major_units('starting_balance', 'currency_exponent') }} as starting_balance_decimal,
        ending_balance,
        {{ to_major_units('ending_balance', 'currency_exponent') }} as ending_balance_decimal,
        {{ json_bigint('object_json', 'attempt_count') }} as attempt_count,

        -- booleans
        {{ json_boolean('object_json', 'attempted') }} as is_attempted,
        {{ json_boolean('object_json', 'auto_advance') }} as is_auto_advance,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ json_timestamp('object_json', 'status_transitions.finalized_at') }} as finalized_at,
        {{ json_timestamp('object_json', 'status_transitions.paid_at') }} as paid_at,
        {{ json_timestamp('object_json', 'status_transitions.voided_at') }} as voided_at,
        {{ json_timestamp('object_json', 'status_transitions.marked_uncollectible_at') }} as marked_uncollectible_at,
        {{ json_timestamp('object_json', 'due_date') }} as due_at,
        {{ json_timestamp('object_json', 'effective_at') }} as effective_at,
        {{ json_timestamp('object_json', 'next_payment_attempt') }} as next_payment_attempt_at,
        {{ json_timestamp('object_json', 'period_start') }} as period_start_at,
        {{ json_timestamp('object_json', 'period_end') }} as period_end_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from extracted

)

select * from final
