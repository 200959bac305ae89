with

source as (

    {{ stripe_source(
        source('stripe_raw', 'payout_balance_transactions'),
        fields=['id'],
    ) }}

),

final as (

    select
        -- ids
        account_id,
        -- Read with GET /v1/balance_transactions?payout=<payout> under its payout, whose id the ingester
        -- keeps in parent_id; the raw row's own id is the pair `<payout>:<balance transaction>`.
        parent_id as payout_id,
        {{ json_text('object_json', 'id') }} as balance_transaction_id,

        -- booleans
        is_deleted,

        -- timestamps
        {{ to_utc_timestamp('synced_at') }} as synced_at

    from source

)

select * from final
