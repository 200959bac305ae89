with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'prices'),
        fields=[
            'currency', 'product', 'recurring.meter', 'nickname', 'lookup_key', 'type', 'billing_scheme',
            'tiers_mode', 'recurring.interval', 'recurring.usage_type', 'transform_quantity.round',
            'tax_behavior', 'unit_amount', 'unit_amount_decimal', 'recurring.interval_count',
            'recurring.trial_period_days', 'transform_quantity.divide_by', 'active', 'livemode',
        ],
        json_fields=['tiers', 'metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

final as (

    select
        -- ids
        -- Prices made through the plans API share the plan's id, which the user can choose ("gold"), so ids
        -- repeat across accounts: the key is (account_id, price_id).
        account_id,
        id as price_id,
        {{ json_text('object_json', 'product') }} as product_id,
        {{ json_text('object_json', 'recurring.meter') }} as meter_id,

        -- strings
        {{ json_text('object_json', 'nickname') }} as nickname,
        {{ json_text('object_json', 'lookup_key') }} as lookup_key,
        -- Qualified like events.event_type: a bare `type` says nothing once joined.
        {{ json_text('object_json', 'type') }} as price_type,
        {{ json_text('object_json', 'billing_scheme') }} as billing_scheme,
        {{ json_text('object_json', 'tiers_mode') }} as tiers_mode,
        -- Named like plans.recurring_interval; plain `interval` is an SQL keyword.
        {{ json_text('object_json', 'recurring.interval') }} as recurring_interval,
        {{ json_text('object_json', 'recurring.usage_type') }} as usage_type,
        {{ json_text('object_json', 'transform_quantity.round') }} as transform_quantity_round,
        {{ json_text('object_json', 'tax_behavior') }} as tax_behavior,
        {{ json_text('object_json', 'currency') }} as currency,
        -- Stripe sends tiers only when the list expands data.tiers, which the ingester does; null otherwise.
        {{ json_fragment('object_json', 'tiers') }} as tiers,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        {{ json_bigint('object_json', 'unit_amount') }} as unit_amount,
        -- From Stripe's own unit_amount_decimal (minor units with up to 12 decimals), so sub-cent prices survive,
        -- as plans.amount_decimal does; unit_amount_exact keeps Stripe's string itself, unrounded.
        {{ to_major_units(json_numeric_exact('object_json', 'unit_amount_decimal'), 'currency_exponent') }} as unit_amount_decimal,
        {{ json_numeric_exact('object_json', 'unit_amount_decimal') }} as unit_amount_exact,
        {{ json_bigint('object_json', 'recurring.interval_count') }} as recurring_interval_count,
        {{ json_bigint('object_json', 'recurring.trial_period_days') }} as trial_period_days,
        {{ json_bigint('object_json', 'transform_quantity.divide_by') }} as transform_quantity_divide_by,

        -- booleans
        {{ json_boolean('object_json', 'active') }} as is_active,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source_with_exponent

)

select * from final
