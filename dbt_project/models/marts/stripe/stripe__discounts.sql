-- The clean `stripe.discounts` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__discounts and the alias names the table.
{{ config(alias='discounts') }}

with

discounts as (

    select * from {{ ref('stg_stripe__discounts') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from discounts

)

select * from final
