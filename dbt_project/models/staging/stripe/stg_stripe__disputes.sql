with

-- The currency's exponent turns minor units into major units below (to_major_units defaults it to 2).
source_with_exponent as (

    {{ stripe_source(
        source('stripe_raw', 'disputes'),
        fields=[
            'currency', 'charge', 'payment_intent', 'status', 'reason', 'payment_method_details.type',
            'payment_method_details.card.brand', 'payment_method_details.card.network_reason_code', 'amount',
            'evidence_details.submission_count', 'is_charge_refundable', 'evidence_details.has_evidence',
            'evidence_details.past_due', 'livemode', 'evidence_details.due_by',
        ],
        json_fields=['metadata'],
        currency_exponents=ref('currency_exponents'),
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as dispute_id,
        {{ json_text('object_json', 'charge') }} as charge_id,
        {{ json_text('object_json', 'payment_intent') }} as payment_intent_id,

        -- strings
        {{ json_text('object_json', 'status') }} as status,
        {{ json_text('object_json', 'reason') }} as reason,
        {{ json_text('object_json', 'payment_method_details.type') }} as payment_method_type,
        {{ json_text('object_json', 'payment_method_details.card.brand') }} as card_brand,
        {{ json_text('object_json', 'payment_method_details.card.network_reason_code') }} as network_reason_code,
        {{ json_text('object_json', 'currency') }} as currency,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ to_major_units(json_bigint('object_json', 'amount'), 'currency_exponent') }} as amount_decimal,
        {{ json_bigint('object_json', 'evidence_details.submission_count') }} as evidence_submission_count,

        -- booleans
        {{ json_boolean('object_json', 'is_charge_refundable') }} as is_charge_refundable,
        {{ json_boolean('object_json', 'evidence_details.has_evidence') }} as has_evidence,
        {{ json_boolean('object_json', 'evidence_details.past_due') }} as is_evidence_past_due,
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ json_timestamp('object_json', 'evidence_details.due_by') }} as evidence_due_by_at,
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source_with_exponent

)

select * from final
