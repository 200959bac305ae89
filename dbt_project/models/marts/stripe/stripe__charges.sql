-- The clean `stripe.charges` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__charges and the alias names the table.
{{ config(alias='charges') }}

with

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from charges

)

select * from final
