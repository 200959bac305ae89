with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
-- Percent-off coupons have no currency; their amount_off is null anyway.
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'coupons'),
        fields=[
            'currency', 'name', 'duration', 'percent_off', 'amount_off', 'duration_in_months',
            'max_redemptions', 'times_redeemed', 'valid', 'livemode', 'redeem_by',
        ],
        json_fields=['metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

final as (

    select
        -- ids
        -- Coupon ids are chosen by the user ("25OFF"), so they repeat across accounts: the key is
        -- (account_id, coupon_id).
        account_id,
        id as coupon_id,

        -- strings
        {{ json_text('object_json', 'name') }} as coupon_name,
        {{ json_text('object_json', 'duration') }} as duration,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        {{ json_numeric('object_json', 'percent_off') }} as percent_off,
        {{ json_bigint('object_json', 'amount_off') }} as amount_off,
        {{ to_major_units(json_bigint('object_json', 'amount_off'), 'currency_exponent') }} as amount_off_decimal,
        {{ json_bigint('object_json', 'duration_in_months') }} as duration_in_months,
        {{ json_bigint('object_json', 'max_redemptions') }} as max_redemptions,
        {{ json_bigint('object_json', 'times_redeemed') }} as times_redeemed,

        -- booleans
        {{ json_boolean('object_json', 'valid') }} as is_valid,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ json_timestamp('object_json', 'redeem_by') }} as redeem_by_at,
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source_with_exponent

)

select * from final
