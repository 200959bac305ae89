-- The clean `stripe.subscription_items` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__subscription_items and the alias names the table.
{{ config(alias='subscription_items') }}

with

subscription_items as (

    select * from {{ ref('stg_stripe__subscription_items') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from subscription_items

)

select * from final
