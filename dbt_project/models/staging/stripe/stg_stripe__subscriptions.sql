with

source as (

    {{ stripe_source(
        source('stripe_raw', 'subscriptions'),
        fields=[
            'customer', 'latest_invoice', 'default_payment_method', 'schedule', 'status', 'collection_method',
            'cancellation_details.reason', 'cancellation_details.feedback', 'cancellation_details.comment',
            'pause_collection.behavior', 'trial_settings.end_behavior.missing_payment_method',
            'description', 'currency', 'days_until_due', 'cancel_at_period_end', 'livemode', 'start_date',
            'trial_start', 'trial_end', 'billing_cycle_anchor', 'cancel_at', 'canceled_at', 'ended_at',
        ],
        json_fields=['metadata'],
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as subscription_id,
        {{ json_text('object_json', 'customer') }} as customer_id,
        {{ json_text('object_json', 'latest_invoice') }} as latest_invoice_id,
        {{ json_text('object_json', 'default_payment_method') }} as default_payment_method_id,
        {{ json_text('object_json', 'schedule') }} as schedule_id,

        -- strings
        {{ json_text('object_json', 'status') }} as status,
        {{ json_text('object_json', 'collection_method') }} as collection_method,
        {{ json_text('object_json', 'cancellation_details.reason') }} as cancellation_reason,
        {{ json_text('object_json', 'cancellation_details.feedback') }} as cancellation_feedback,
        {{ json_text('object_json', 'cancellation_details.comment') }} as cancellation_comment,
        {{ json_text('object_json', 'pause_collection.behavior') }} as pause_collection_behavior,
        {{ json_text('object_json', 'trial_settings.end_behavior.missing_payment_method') }} as trial_missing_payment_method_behavior,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        {{ json_bigint('object_json', 'days_until_due') }} as days_until_due,

        -- booleans
        -- Stripe's name, kept as the analytics contract uses it: it reads as a boolean already.
        {{ json_boolean('object_json', 'cancel_at_period_end') }} as cancel_at_period_end,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        -- current_period_* lives on subscription items since API version 2025-03-31.
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ json_timestamp('object_json', 'start_date') }} as started_at,
        {{ json_timestamp('object_json', 'trial_start') }} as trial_start_at,
        {{ json_timestamp('object_json', 'trial_end') }} as trial_end_at,
        {{ json_timestamp('object_json', 'billing_cycle_anchor') }} as billing_cycle_anchor_at,
        {{ json_timestamp('object_json', 'cancel_at') }} as cancel_at,
        {{ json_timestamp('object_json', 'canceled_at') }} as canceled_at,
        {{ json_timestamp('object_json', 'ended_at') }} as ended_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source

)

select * from final
