-- The clean `stripe.credit_notes` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__credit_notes and the alias names the table.
{{ config(alias='credit_notes') }}

with

credit_notes as (

    select * from {{ ref('stg_stripe__credit_notes') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from credit_notes

)

select * from final
