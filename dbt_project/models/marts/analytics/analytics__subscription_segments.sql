-- analytics.subscription_segments: one row per subscription, its mode and the metadata keys the var
-- stripe_metadata_keys.subscription lists, as typed columns; join on (account_id, subscription_id).

with

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

final as (

    select
        -- ids
        account_id,
        subscription_id,
        customer_id,

        -- booleans
        is_livemode,
        is_deleted

        -- metadata, typed as the var says (renders nothing without keys, so the line may be blank)
        {{ metadata_columns('subscription', 'metadata') }}  -- noqa: LT02

    from subscriptions

)

select * from final
