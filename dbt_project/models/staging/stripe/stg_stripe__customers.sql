with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'customers'),
        fields=[
            'currency', 'invoice_settings.default_payment_method', 'default_source', 'email', 'name',
            'description', 'phone', 'address.country', 'tax_exempt', 'balance', 'delinquent', 'livemode',
        ],
        json_fields=['metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as customer_id,
        {{ json_text('object_json', 'invoice_settings.default_payment_method') }} as default_payment_method_id,
        {{ json_text('object_json', 'default_source') }} as default_source_id,

        -- strings
        {{ json_text('object_json', 'email') }} as email,
        {{ json_text('object_json', 'name') }} as customer_name,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_text('object_json', 'phone') }} as phone,
        {{ json_text('object_json', 'address.country') }} as address_country,
        {{ json_text('object_json', 'tax_exempt') }} as tax_exempt,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        -- Stripe's customer balance: negative is credit the customer holds, positive is owed on the next invoice.
        {{ json_bigint('object_json', 'balance') }} as balance,
        {{ to_major_units(json_bigint('object_json', 'balance'), 'currency_exponent') }} as balance_decimal,

        -- booleans
        {{ json_boolean('object_json', 'delinquent') }} as is_delinquent,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source_with_exponent

)

select * from final
