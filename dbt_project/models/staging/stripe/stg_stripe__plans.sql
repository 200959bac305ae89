with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'plans'),
        fields=[
            'currency', 'product', 'nickname', 'interval', 'usage_type', 'billing_scheme', 'tiers_mode',
            'amount', 'amount_decimal', 'interval_count', 'trial_period_days', 'active', 'livemode',
        ],
        json_fields=['metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

final as (

    select
        -- ids
        -- Plan ids can be chosen by the user ("gold"), so they repeat across accounts: the key is
        -- (account_id, plan_id). A plan is also readable as a price with the same id.
        account_id,
        id as plan_id,
        {{ json_text('object_json', 'product') }} as product_id,

        -- strings
        {{ json_text('object_json', 'nickname') }} as nickname,
        -- Named like a price's recurring.interval; plain `interval` is an SQL keyword.
        {{ json_text('object_json', 'interval') }} as recurring_interval,
        {{ json_text('object_json', 'usage_type') }} as usage_type,
        {{ json_text('object_json', 'billing_scheme') }} as billing_scheme,
        {{ json_text('object_json', 'tiers_mode') }} as tiers_mode,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        {{ json_bigint('object_json', 'amount') }} as amount,
        -- From Stripe's own amount_decimal (minor units with up to 12 decimals), so sub-cent prices survive;
        -- unlike Stripe's field of that name, this column is in major units, like every *_decimal here.
        {{ to_major_units(json_numeric('object_json', 'amount_decimal'), 'currency_exponent') }} as amount_decimal,
        {{ json_bigint('object_json', 'interval_count') }} as recurring_interval_count,
        {{ json_bigint('object_json', 'trial_period_days') }} as trial_period_days,

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
