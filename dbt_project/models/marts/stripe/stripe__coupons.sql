-- The clean `stripe.coupons` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__coupons and the alias names the table.
{{ config(alias='coupons') }}

with

coupons as (

    select * from {{ ref('stg_stripe__coupons') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from coupons

)

select * from final
