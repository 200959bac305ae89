-- The clean `stripe.subscriptions` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__subscriptions and the alias names the table.
{{ config(alias='subscriptions') }}

with

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from subscriptions

)

select * from final
