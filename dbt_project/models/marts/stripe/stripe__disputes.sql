-- The clean `stripe.disputes` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__disputes and the alias names the table.
{{ config(alias='disputes') }}

with

disputes as (

    select * from {{ ref('stg_stripe__disputes') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from disputes

)

select * from final
