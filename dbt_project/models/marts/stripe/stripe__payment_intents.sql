-- The clean `stripe.payment_intents` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__payment_intents and the alias names the table.
{{ config(alias='payment_intents') }}

with

payment_intents as (

    select * from {{ ref('stg_stripe__payment_intents') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from payment_intents

)

select * from final
