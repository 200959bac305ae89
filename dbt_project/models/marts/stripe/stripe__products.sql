-- The clean `stripe.products` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__products and the alias names the table.
{{ config(alias='products') }}

with

products as (

    select * from {{ ref('stg_stripe__products') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from products

)

select * from final
