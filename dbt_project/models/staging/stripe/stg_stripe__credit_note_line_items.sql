with

source as (

    {{ stripe_source(
        source('stripe_raw', 'credit_note_line_items'),
        fields=[
            'invoice_line_item', 'type', 'description', 'amount', 'discount_amount', 'unit_amount',
            'unit_amount_decimal', 'quantity', 'livemode',
        ],
        json_fields=['metadata'],
    ) }}

),

final as (

    select
        -- ids
        account_id,
        id as credit_note_line_item_id,
        -- A credit note line does not name its credit note: the ingester reads it under it, into parent_id.
        parent_id as credit_note_id,
        -- The invoice line credited, for lines of type invoice_line_item.
        {{ json_text('object_json', 'invoice_line_item') }} as invoice_line_item_id,

        -- strings
        -- Qualified: a bare `type` says nothing once joined.
        {{ json_text('object_json', 'type') }} as line_item_type,
        {{ json_text('object_json', 'description') }} as description,
        {{ json_fragment('object_json', 'metadata') }} as metadata,

        -- numerics
        -- In the credit note's currency, which the line does not carry: the stripe layer adds it and the
        -- major-unit columns, since staging reads one table.
        {{ json_bigint('object_json', 'amount') }} as amount,
        {{ json_bigint('object_json', 'discount_amount') }} as discount_amount,
        {{ json_bigint('object_json', 'unit_amount') }} as unit_amount,
        {{ json_numeric_exact('object_json', 'unit_amount_decimal') }} as unit_amount_exact,
        {{ json_bigint('object_json', 'quantity') }} as quantity,

        -- booleans
        {{ json_boolean('object_json', 'livemode') }} as is_livemode,
        is_deleted,

        -- timestamps
        -- Lines carry no creation time of their own: the credit note's created_at applies.
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source

)

select * from final
