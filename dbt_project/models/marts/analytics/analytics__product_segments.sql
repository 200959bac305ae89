-- analytics.product_segments: one row per product, its name, mode and the metadata keys the var
-- stripe_metadata_keys.product lists, as typed columns; join on (account_id, product_id).

with

products as (

    select * from {{ ref('stripe__products') }}

),

final as (

    select
        -- ids
        account_id,
        product_id,

        -- strings
        product_name,

        -- booleans
        is_active,
        is_livemode,
        is_deleted

        -- metadata, typed as the var says (renders nothing without keys, so the line may be blank)
        {{ metadata_columns('product', 'metadata') }}  -- noqa: LT02

    from products

)

select * from final
