-- The clean `stripe.balance_transactions` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__balance_transactions and the alias names the table.
{{ config(alias='balance_transactions') }}

with

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from balance_transactions

)

select * from final
