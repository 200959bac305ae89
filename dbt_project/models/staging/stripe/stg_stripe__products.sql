with

source as (

    {{ stripe_source(
        source('stripe_raw', 'products'),
        fields=[
            'default_price', 'tax_code', 'name', 'description', 'type', 'unit_label', 'statement_descriptor',
            'url', 'active', 'shippable', 'livemode', 'updated',
        ],
        json_fields=['metadata'],
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as product_id,
        {{ json_text('object_json', 'default_price') }} as default_price_id,
        {{ json_text('object_json', 'tax_code') }} as tax_code_id,

        -- strings
        {{ json_text('object_json', 'name') }} as product_name,
        {{ json_text('object_json', 'description') }} as description,
        -- Qualified like events.event_type: a bare `type` says nothing once joined.
        {{ json_text('object_json', 'type') }} as product_type,
        {{ json_text('object_json', 'unit_label') }} as unit_label,
        {{ json_text('object_json', 'statement_descriptor') }} as statement_descriptor,
        {{ json_text('object_json', 'url') }} as url,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- booleans
        {{ json_boolean('object_json', 'active') }} as is_active,
        {{ json_boolean('object_json', 'shippable') }} as is_shippable,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ json_timestamp('object_json', 'updated') }} as updated_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source

)

select * from final
