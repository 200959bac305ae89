-- analytics.price_segments: one row per price, its product, nickname, mode and the metadata keys the var
-- stripe_metadata_keys.price lists, as typed columns; join on (account_id, price_id).

with

prices as (

    select * from {{ ref('stripe__prices') }}

),

final as (

    select
        -- ids
        account_id,
        price_id,
        product_id,

        -- strings
        nickname,

        -- booleans
        is_active,
        is_livemode,
        is_deleted

        -- metadata, typed as the var says (renders nothing without keys, so the line may be blank)
        {{ metadata_columns('price', 'metadata') }}  -- noqa: LT02

    from prices

)

select * from final
