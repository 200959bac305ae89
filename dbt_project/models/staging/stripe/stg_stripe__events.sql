with

source as (

    {{ stripe_source(
        source('stripe_raw', 'events'),
        fields=[
            'data.object.id', 'request.id', 'type', 'data.object.object', 'api_version',
            'request.idempotency_key', 'pending_webhooks', 'livemode',
        ],
        json_fields=['data.object', 'data.previous_attributes'],
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as event_id,
        {{ json_text('object_json', 'data.object.id') }} as object_id,
        {{ json_text('object_json', 'request.id') }} as request_id,

        -- strings
        {{ json_text('object_json', 'type') }} as event_type,
        {{ json_text('object_json', 'data.object.object') }} as object_type,
        -- The payload is rendered in the API version current when the event was created, which need not be
        -- the version the ingester pins: read fields from it with that in mind.
        {{ json_text('object_json', 'api_version') }} as api_version,
        {{ json_text('object_json', 'request.idempotency_key') }} as request_idempotency_key,
        {{ json_fragment('object_json', 'data.object') }} as data_object,
        {{ json_fragment('object_json', 'data.previous_attributes') }} as previous_attributes,

        -- numerics
        {{ json_bigint('object_json', 'pending_webhooks') }} as pending_webhooks,

        -- booleans
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source

)

select * from final
