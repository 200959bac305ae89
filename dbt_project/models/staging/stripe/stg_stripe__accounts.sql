with

source as (

    {{ stripe_source(
        source('stripe_raw', 'accounts'),
        fields=[
            'business_profile.name', 'settings.dashboard.display_name', 'business_profile.url',
            'business_profile.mcc', 'business_type', 'type', 'email', 'country', 'default_currency',
            'settings.dashboard.timezone', 'settings.payouts.schedule.interval',
            'requirements.disabled_reason', 'charges_enabled', 'payouts_enabled', 'details_submitted',
        ],
        json_fields=['metadata'],
    ) }}

),

final as (

    select
        -- ids
        -- The ingester reads each account's own object (GET /v1/account), so the object's id is the account
        -- the row was read from: account_id is the key.
        account_id,

        -- strings
        coalesce(
            {{ json_text('object_json', 'business_profile.name') }},
            {{ json_text('object_json', 'settings.dashboard.display_name') }}
        ) as business_name,
        {{ json_text('object_json', 'business_profile.url') }} as business_url,
        {{ json_text('object_json', 'business_profile.mcc') }} as merchant_category_code,
        {{ json_text('object_json', 'business_type') }} as business_type,
        -- Qualified like events.event_type: a bare `type` says nothing once joined.
        {{ json_text('object_json', 'type') }} as account_type,
        {{ json_text('object_json', 'email') }} as email,
        {{ json_text('object_json', 'country') }} as country,
        {{ json_text('object_json', 'default_currency') }} as default_currency,
        {{ json_text('object_json', 'settings.dashboard.timezone') }} as dashboard_timezone,
        {{ json_text('object_json', 'settings.payouts.schedule.interval') }} as payout_schedule_interval,
        {{ json_text('object_json', 'requirements.disabled_reason') }} as requirements_disabled_reason,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- booleans
        {{ json_boolean('object_json', 'charges_enabled') }} as is_charges_enabled,
        {{ json_boolean('object_json', 'payouts_enabled') }} as is_payouts_enabled,
        {{ json_boolean('object_json', 'details_submitted') }} as is_details_submitted,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source

)

select * from final
