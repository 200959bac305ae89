-- The clean `stripe.accounts` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__accounts and the alias names the table.
{{ config(alias='accounts') }}

with

accounts as (

    select * from {{ ref('stg_stripe__accounts') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from accounts

)

select * from final
